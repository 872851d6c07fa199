"""``python -m seqstack``."""

from seqstack.cli import main

# Guarded: worker processes started with "spawn" (the input checks) must not rerun the CLI.
if __name__ == "__main__":
    main()
