"""Prompt enhancement: an LLM rewrites the user's idea into an image prompt (llm.py), its
answer read back (answer.py), with imagegate's system prompt (prompts.py)."""

from worker.enhance.llm import Enhancement, enhance_prompt

__all__ = ["Enhancement", "enhance_prompt"]
