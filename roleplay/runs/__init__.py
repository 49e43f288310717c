"""Runs of many dialogues: the run-folder layout (`folder`), the batch engine (`batch`), exports (`export`)."""
