"""agentctl: manage AssemblyAI voice agents from the command line."""

__version__ = "0.1.0"
# The distribution's name (the command stays `agentctl`): "agentctl" on PyPI is another
# project's, so ours must never be installed by that name (docs/security.md).
DISTRIBUTION = "agentctl-voice"
