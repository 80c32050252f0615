"""Capacity planning for AWS EC2 fleets: burstable CPU credits against fixed types.

The layers, lowest first: ``catalog`` (instance shapes, prices), ``workload`` and
``ingest`` (one regular UTC time grid), ``credits`` (the CPU-credit ledger),
``queueing`` and ``fleet`` (latency, errors, health checks), ``rollout`` (rolling
deployments), ``cost`` and ``recommend`` (sizing), ``charts`` and ``report``
(notebook runs). Lower layers never import higher ones.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ec2-capacity-planner")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
