"""The ipywidgets explorers that sit on top of the chapter's helpers.

Each explorer caches the expensive part (forward and backward passes) so that
a slider only redraws. One module per explorer; this file re-exports them.
"""

from .common import ImagePicker, to_png
from .feature_maps import feature_map_explorer
from .cam_explorer import cam_explorer
from .attention import attention_heatmap, head_view, model_view, sentiment_box
