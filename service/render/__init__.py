"""Rendering findings into CDS Hooks cards (the Python side of the top-level `cards/` knowledge data)."""

from service.render.cards import render_card, render_cards

__all__ = ["render_card", "render_cards"]
