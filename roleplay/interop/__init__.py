"""The AutoGen boundary, both ways.

- roleplay -> AutoGen: `as_autogen` (a persona as an ``AssistantAgent``), `RoleplayTermination` (a
  roleplay stop condition as a ``TerminationCondition``).
- AutoGen -> roleplay: `dialog_from_autogen` turns a team's ``TaskResult``
  into a `Dialog`; `wrap_client` lets any ``ChatCompletionClient`` stand wherever a model string does
  (``get_backend`` calls it), with the generator's sampling options honoured or refused, never dropped.
"""

from roleplay.backends._wrapped import ClientWrapper, SamplingClient, Unseeded, client_label, wrap_client
from roleplay.interop._agents import OtherParty, ReplyCleaningClient, as_autogen
from roleplay.interop._dialogs import Transcript, dialog_from_autogen, stop_reason_of
from roleplay.interop._termination import RoleplayTermination

__all__ = [
    "ClientWrapper",
    "OtherParty",
    "ReplyCleaningClient",
    "RoleplayTermination",
    "SamplingClient",
    "Transcript",
    "Unseeded",
    "as_autogen",
    "client_label",
    "dialog_from_autogen",
    "stop_reason_of",
    "wrap_client",
]
