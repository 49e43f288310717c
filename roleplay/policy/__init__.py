"""Keeping an agent on a dialogue-policy graph.

The graph (`graph`), where the agent is on it (`tracker`), the user's yes/no (`answers`), the tools its
query nodes call (`tools`), and the turn loop (`orchestrator`).
"""

from roleplay.policy.graph import NodeKind, read_dot, to_dot, write_dot
from roleplay.policy.orchestrator import Policy, PolicyOrchestrator
from roleplay.policy.tools import QueryResult, QueryTool
from roleplay.policy.tracker import FlowchartTracker, replay

__all__ = ["FlowchartTracker", "NodeKind", "Policy", "PolicyOrchestrator", "QueryResult", "QueryTool", "read_dot",
           "replay", "to_dot", "write_dot"]
