"""Keeping an agent on a dialogue-policy graph.

The graph (`graph`), where the agent is on it (`tracker`), the user's yes/no (`answers`), the policy's
settings (`config`), the actions offered each turn (`options`), what each turn asks of the models
(`turns`), the tools its query nodes call (`tools`) and the environment that runs them (`environment`),
and the turn loop (`orchestrator`).
"""

from roleplay.policy.config import Policy
from roleplay.policy.environment import ToolEnvironment
from roleplay.policy.graph import NodeKind, PolicyGraphWarning, read_dot, to_dot, write_dot
from roleplay.policy.orchestrator import PolicyOrchestrator
from roleplay.policy.tools import QueryResult, QueryTool
from roleplay.policy.tracker import FlowchartTracker, replay

__all__ = ["FlowchartTracker", "NodeKind", "Policy", "PolicyGraphWarning", "PolicyOrchestrator", "QueryResult",
           "QueryTool", "ToolEnvironment", "read_dot", "replay", "to_dot", "write_dot"]
