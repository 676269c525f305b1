"""The demo company behind `qmon demo`: a config template and seeded, realistic CRM events.

`qmon/demo/qmon.yaml` is the config a newcomer reads first (and copies to start their own);
`generator` invents the events that config is measured on.
"""

from qmon.demo.generator import DemoFiles, generate_events, write_demo

__all__ = ["DemoFiles", "generate_events", "write_demo"]
