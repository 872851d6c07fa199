"""seqstack: sequencing QC and alignment on spot Kubernetes, or on one machine."""

__version__ = "0.1.0"
