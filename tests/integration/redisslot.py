"""Redis Cluster key slots, as the cluster specification defines them:
CRC16/XMODEM of the key, or of its hash tag, modulo 16384.

The one copy for stack.py (which routes commands to the master of a key's
slot) and tools/bench/bucketsim.py (which places the schedule buckets and
journey keys on the masters). Python 3 standard library only.
"""

CLUSTER_SLOTS = 16384


def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data):
    """CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum Redis
    Cluster derives key slots from."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def hash_part(key):
    """The part of a key (bytes) Redis Cluster hashes: what is between the
    first "{" and the first "}" after it, when that is not empty, or else
    the whole key."""
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def key_slot(key):
    """The Redis Cluster slot of a key (str or bytes)."""
    k = key if isinstance(key, bytes) else str(key).encode()
    return crc16(hash_part(k)) % CLUSTER_SLOTS
