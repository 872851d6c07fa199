"""``python -m seqstack``."""

from seqstack.cli import main

main()
