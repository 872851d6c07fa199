"""``python -m seqstack``."""

from seqstack.cli import main

# Guarded, so importing the module (tools that inspect a package, process pools) never runs the CLI.
if __name__ == "__main__":
    main()
