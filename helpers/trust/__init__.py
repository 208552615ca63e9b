"""Trust checks: faithfulness, sanity, localization and reasoning, rank correlations."""
