"""Evaluating run folders: policy adherence (`adherence`), text quality (`text`), tables and files (`report`)."""

from roleplay.evaluation.adherence import (
    DialogMetrics,
    compare_with_real,
    consistency,
    evaluate_dialog,
    evaluate_folder,
    load_dialogs,
    sequence_similarity,
    summarize,
)
from roleplay.evaluation.report import table, write_report
from roleplay.evaluation.text import distinct_n, text_report

__all__ = ["DialogMetrics", "compare_with_real", "consistency", "distinct_n", "evaluate_dialog", "evaluate_folder",
           "load_dialogs", "sequence_similarity", "summarize", "table", "text_report", "write_report"]
