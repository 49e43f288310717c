"""`Policy`: which agent follows which graph(s), with which tools, and how strictly."""

from __future__ import annotations

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from roleplay.policy.graph import describe, to_dot
from roleplay.policy.prior import Prior
from roleplay.policy.tools import QueryTool
from roleplay.policy.user import UserGoal
from roleplay.prompts import render

__all__ = ["Policy"]


class Policy(BaseModel):
    """Which agent follows which graph(s), with which tools, and whether legality is enforced."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    agent: str = Field(description="Name of the agent that follows the policy (e.g. 'System').")
    graphs: dict[str, nx.DiGraph] = Field(description="Task name -> policy graph; the first task starts.")
    tools: dict[str, QueryTool] = Field(default_factory=dict, description="Task name -> tool its query nodes call.")
    enforce: bool = Field(True, description="Constrain actions to the legal set (False: prompt-only guidance).")
    max_repeats: int | None = Field(2, ge=1, description="Enforced: an action taken this many times in a row is "
                                    "not offered again (anywhere-actions: once). None: no limit.")
    end_after_goal: bool = Field(True, description="Enforced: terminal actions (goodbye) are offered only once "
                                 "a goal was reached, or when nothing else is legal.")
    end_on_terminal: bool = Field(True, description="Only the policy agent's terminal action ends the dialogue; "
                                  "another agent's end signal is kept as metadata 'wants_end'.")
    prior: Prior = Field(default_factory=Prior, description="Enforced: how human transition counts (edge "
                         "'count') order and narrow the offered actions (see roleplay.policy.prior).")
    user_goal: UserGoal | None = Field(None, description="Make the other agent a goal-aware user: it answers from "
                                       "these facts, closes once served or refused, and terminal actions wait for "
                                       "its closing turn.")
    clear_answers: bool = Field(True, description="When the policy agent has asked a yes/no question (its node "
                                "has answer branches), the other agent answers in JSON {answer: yes|no, "
                                "utterance}, so the branch is resolved from data instead of read from words.")

    @classmethod
    def single(cls, agent: str, graph: nx.DiGraph, tool: QueryTool | None = None, enforce: bool = True,
               prior: Prior | None = None) -> Policy:
        """A one-task policy."""
        name = graph.graph.get("name") or "task"
        return cls(agent=agent, graphs={name: graph}, tools={name: tool} if tool else {}, enforce=enforce,
                   prior=prior or Prior())

    def prompt_guidance(self) -> str:
        """What the policy agent's system prompt says about its flowchart(s) (prompt-only mode)."""
        return "\n".join(render("policy_flowchart", dot=to_dot(g), actions=describe(g)) for g in self.graphs.values())
