// Byte fixtures for the wire view tests, produced by an independent Python script (struct +
// its own RFC 1071 checksum), not by the code under test.
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Ethernet + IPv4 (DF, TTL 64) + ICMP echo request id 0x1234 seq 1 "abcdefgh", 192.168.0.1 -> .199. */
export const ECHO = hex('020000000001020000000002 0800 450000241c46400040019c7ac0a80001c0a800c7 08005435123400016162636465666768');
/** IPv4 with a 4-byte Router Alert option (IHL 6), TTL 17, UDP 5353 -> 53 "hello", 10.0.0.1 -> 10.0.0.2. */
export const UDP_OPT = hex('020000000001020000000002 0800 4600002500070000111100bb0a0000010a000002 94040000 14e90035000d92e1 68656c6c6f');
/** TCP SYN 40000 -> 80, seq 0x01020304, window 64240, options MSS 1460 NOP NOP SACK-permitted. */
export const TCP_SYN = hex('020000000001020000000002 0800 450000 30beef40003f0667d60a0000010a000102 9c40005001020304000000007002faf0d2950000 020405b401010402');
/** 802.1Q (PCP 5, VID 100) ARP request who-has 10.1.0.1 tell 10.1.0.5. */
export const VLAN_ARP = hex('ffffffffffff020000000002 8100a064 0806 0001080006040001 020000000002 0a010005 000000000000 0a010001');
/** ICMP Time Exceeded from 10.0.0.254 to 10.0.0.1 quoting TCP_SYN's IPv4 header + 8 bytes. */
export const TIME_EXCEEDED = hex('020000000002020000000001 0800 4500003801010000400164c60a0000fe0a000001 0b00546900000000 45000030beef40003f0667d60a0000010a0001029c40005001020304');
