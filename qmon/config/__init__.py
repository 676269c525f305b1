"""The configuration file (`config/qmon.yaml`): strict parsing with located errors.

`load_config(path)` is the one way in: it returns a `QmonConfig` or raises `ConfigError`
listing every problem as `file:line: message`.
"""

from qmon.config.loader import load_config
from qmon.config.model import QmonConfig

__all__ = ["QmonConfig", "load_config"]
