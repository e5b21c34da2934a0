"""The BLE link: scanning, connecting and reconnecting with bleak, decoded sample blocks on the
host clock, and the health of each wearable's stream. See docs/ble.md.

Typical use (the daemon)::

    pool = AdapterPool()
    link = WearableLink(LinkConfig.from_config(wearable, config.ble),
                        pool.get(wearable.adapter or config.ble.adapter))
    group.create_task(link.run())          # keeps the stream going until link.stop()
    async for block in link: ...           # ImuBlock, t_s on time.monotonic()
    link.health()                          # LinkHealth snapshot, .to_dict() for MQTT
"""

from sensord.ble.adapter import Adapter, AdapterPool, parse_adapter
from sensord.ble.health import DeviceInformation, LinkHealth
from sensord.ble.link import LinkConfig, WearableLink
from sensord.ble.timeline import Gap

__all__ = [
    "Adapter",
    "AdapterPool",
    "DeviceInformation",
    "Gap",
    "LinkConfig",
    "LinkHealth",
    "WearableLink",
    "parse_adapter",
]
