"""seqstack's Pulumi program: load config -> build the cloud's stack -> export outputs."""

from stacks.program import main

main()
