"""What a channel sees: top patches, feature visualization by optimization, network dissection."""
