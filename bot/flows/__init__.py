"""Multi-step conversations (FSM flows)."""
