"""Synthetic demo data. Filled in as the domains land (vault subjects, consents, events)."""

from __future__ import annotations

from flask import Flask


def load_demo(app: Flask, *, subjects: int, seed: int) -> list[str]:
    return [f"demo data: nothing to load yet ({subjects} subjects requested, seed {seed})"]
