"""sensord: counts and times foot exercises from a foot-worn IMU and publishes them over MQTT."""

__version__ = "0.1.0"
