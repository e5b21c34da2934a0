"""bumble's emulated Bluetooth controller, with the two behaviours a virtual radio needs fixed.

bumble's ``Controller`` (pinned at 0.0.236) is a good link-layer emulator with two gaps that
matter to a BLE gateway:

* **Cancelled connections never complete.** The spec (Vol 4, Part E, 7.8.13) says a successful
  LE Create Connection Cancel is followed by an LE Connection Complete event with status
  Unknown Connection Identifier (0x02). bumble answers the command but never sends that event and
  never clears its pending connection: ``Device.connect(timeout=...)`` to an absent peer hangs
  forever and every later connect is refused as "already pending".
* **Scan responses echo the advertising data.** A scanner's controller fabricates the scan
  response from the advertising PDU, so whatever a peripheral puts in its scan response (a real
  device puts its full name there when 31 bytes of advertising are not enough) is lost.

``VirtualController`` fixes both and adds a per-controller RSSI so a virtual wearable can look
near or far. Use it for every controller on a virtual link (the wearable's, the in-process
central's and each one served over TCP).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from bumble import hci, ll
from bumble.controller import Controller
from bumble.link import LocalLink

logger = logging.getLogger(__name__)

DEFAULT_RSSI_DBM: Final = -50
_ACTIVE_SCANNING: Final = 1
# Advertising event property bits (Vol 4, Part E, 7.8.53) and the report's extra bit (7.7.65.13).
_SCANNABLE: Final = 0x02
_LEGACY: Final = 0x10
_SCAN_RESPONSE: Final = 0x08
_REPORT_TYPE_BITS: Final = 0x17  # connectable, scannable, directed, legacy
_PROPS_LEGACY_ADV_IND: Final = 0x13  # legacy, scannable, connectable


class VirtualController(Controller):
    """An emulated controller that completes cancelled connections and serves scan responses.

    ``rssi_dbm`` is what scanners report for this controller's advertisements. Build it inside
    the running event loop (bumble creates futures in its constructor).
    """

    def __init__(self, name: str, link: LocalLink, *, rssi_dbm: int = DEFAULT_RSSI_DBM) -> None:
        super().__init__(name, link=link)
        self.rssi_dbm = rssi_dbm

    # --- connection cancel -------------------------------------------------------------------

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Clears the pending connection and, after the Command Complete, reports its failure."""
        del command
        pending = self.pending_le_connection
        if pending is not None:
            self.pending_le_connection = None
            failure = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
            # send_hci_packet queues with call_soon; deferring the call itself puts the event
            # behind the Command Complete that the caller sends when we return.
            asyncio.get_running_loop().call_soon(self.send_hci_packet, failure)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    # --- scanning ----------------------------------------------------------------------------

    def on_hci_le_set_extended_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Parameters_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Remembers active or passive scanning, which the base class forgets."""
        if command.scan_types:
            self.le_scan_type = command.scan_types[0]
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    def on_advertising_pdu(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        """Reports the advertisement with the advertiser's RSSI and real scan response."""
        if not self.le_scan_enable:
            super().on_advertising_pdu(pdu)
            return
        self._report(pdu)
        self.le_scan_enable = False  # the base class would report it a second time
        try:
            super().on_advertising_pdu(pdu)  # periodic syncs and pending connections
        finally:
            self.le_scan_enable = True

    def _advertiser(self, address: hci.Address) -> tuple[int, int, bytes]:
        """The advertiser's RSSI, event properties and scan response data, from the link.

        Properties are the bits of Vol 4, Part E, 7.8.53 (bit 0 connectable, 1 scannable,
        2 directed, 4 legacy PDUs).
        """
        other = self.link.find_le_controller(address)
        if other is None:
            return DEFAULT_RSSI_DBM, _PROPS_LEGACY_ADV_IND, b""
        rssi = int(getattr(other, "rssi_dbm", DEFAULT_RSSI_DBM))
        legacy = other.le_legacy_advertiser
        if legacy.enabled and legacy.address == address:
            return rssi, _PROPS_LEGACY_ADV_IND, bytes(legacy.scan_response_data)
        for adv_set in other.advertising_sets.values():
            if adv_set.enabled and adv_set.address == address and adv_set.parameters:
                properties = int(adv_set.parameters.advertising_event_properties)
                return rssi, properties, bytes(adv_set.scan_response_data)
        return rssi, _PROPS_LEGACY_ADV_IND, b""

    def _report(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        rssi, properties, scan_response = self._advertiser(pdu.advertiser_address)
        event_type = properties & _REPORT_TYPE_BITS
        scannable = bool(properties & _SCANNABLE)
        reports = [(event_type, pdu.data)]
        if scannable and self.le_scan_type == _ACTIVE_SCANNING:
            reports.append((event_type | _SCAN_RESPONSE, scan_response))
        address = pdu.advertiser_address
        if self.le_features & hci.LeFeatureMask.LE_EXTENDED_ADVERTISING:
            for ext_type, data in reports:
                report = hci.HCI_LE_Extended_Advertising_Report_Event.Report(
                    event_type=ext_type,
                    address_type=address.address_type,
                    address=address,
                    primary_phy=hci.Phy.LE_1M,
                    secondary_phy=0 if properties & _LEGACY else hci.Phy.LE_1M,
                    advertising_sid=0xFF if properties & _LEGACY else 0,
                    tx_power=0x7F,
                    rssi=rssi,
                    periodic_advertising_interval=0,
                    direct_address_type=0,
                    direct_address=hci.Address.ANY,
                    data=data,
                )
                self.send_hci_packet(hci.HCI_LE_Extended_Advertising_Report_Event([report]))
            return
        kinds = hci.HCI_LE_Advertising_Report_Event.EventType
        for index, (_ext_type, data) in enumerate(reports):
            legacy_report = hci.HCI_LE_Advertising_Report_Event.Report(
                event_type=kinds.ADV_IND if index == 0 else kinds.SCAN_RSP,
                address_type=address.address_type,
                address=address,
                data=data,
                rssi=rssi,
            )
            self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([legacy_report]))

    # --- teardown ----------------------------------------------------------------------------

    def detach(self, reason: int = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR) -> None:
        """Leaves the link as a radio that lost power would: peers see their connections end.

        ``reason`` is what the peers are told (default: supervision timeout, 0x08).
        """
        for connection in list(self.le_connections.values()):
            connection.send_ll_control_pdu(ll.TerminateInd(reason))
            del self.le_connections[connection.peer_address]
        self.pending_le_connection = None
        self.le_legacy_advertiser.stop()
        for adv_set in self.advertising_sets.values():
            adv_set.stop()
        if self in self.link.controllers:
            self.link.remove_controller(self)
