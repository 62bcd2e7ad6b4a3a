"""pytest plugin for llmassert (entry point pytest11). Must import cheaply."""
