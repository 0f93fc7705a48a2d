"""Coverage segmentation and capacity planning: who needs which kind of attention, how many
people that takes, and which accounts the assignment engine places with a named CSM.

See docs/segmentation.md.
"""

from .capacity import Capacity, plan_capacity
from .routing import Routing, route, segment_skill
from .segmentation import SegmentationReport, segment

__all__ = [
    "Capacity",
    "Routing",
    "SegmentationReport",
    "plan_capacity",
    "route",
    "segment",
    "segment_skill",
]
