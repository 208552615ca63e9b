"""The ipywidgets explorers that sit on top of the chapter's helpers.

Each explorer (a subclass of :class:`helpers.widgets.base.Explorer`) caches the
expensive part (forward and backward passes) so that a slider only redraws.
One module per explorer; this file re-exports them.
"""

from .common import ImagePicker, to_png
from .feature_maps import feature_map_explorer
from .channel_view import channel_explorer
from .cam_explorer import cam_explorer
from .attention import head_view
from .sentiment import sentiment_box

# Static pictures, re-exported for the notebooks that call them through ``widgets``
# (to be dropped once the notebooks call ``textviz`` directly).
from ..draw.textviz import attention_heatmap, model_view
