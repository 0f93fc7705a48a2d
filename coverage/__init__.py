"""Coverage segmentation and capacity planning: who needs which kind of attention, how many
people that takes, and which accounts the assignment engine places with a named CSM.

See docs/segmentation.md.
"""

from .segmentation import Routing, SegmentationReport, route, segment

__all__ = ["Routing", "SegmentationReport", "route", "segment"]
