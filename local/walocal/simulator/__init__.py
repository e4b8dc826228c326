"""A local stand-in for Meta's WhatsApp Cloud API: ``/messages``, signed status webhooks, a user to play.

Start it with ``GraphApiSimulator(SimulatorConfig.from_env()).start()`` (or as a context manager),
then POST to ``<url>/v24.0/<phone_number_id>/messages``.
"""

from .config import SimulatorConfig, TemplateSpec
from .server import GraphApiSimulator

__all__ = ["GraphApiSimulator", "SimulatorConfig", "TemplateSpec"]
