"""qmon: measures whether the promises a company makes along the customer journey are kept."""

__version__ = "0.1.0"
