"""The whole pipeline as one LangGraph ``StateGraph``: topic -> ideas -> experiments -> figures -> paper -> review
-> report, checkpointed in the run directory so ``shoal resume RUN`` continues after a crash or Ctrl-C."""
