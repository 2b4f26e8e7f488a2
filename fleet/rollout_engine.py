"""Running a rollout (stub while the models settle; see fleet/rollouts.py)."""

from __future__ import annotations


def advance(rollout_id: int) -> None:
    """Advance one rollout until nothing is left to do now."""
