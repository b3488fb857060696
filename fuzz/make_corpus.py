#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/:
a few small valid inputs each, so the fuzzers start from real frames.

Each input is the 4-byte header that fuzz_support.hpp reads (reader options
and how the stream is cut), then the stream. Run it from anywhere; it
replaces the files it writes and nothing else:  python3 fuzz/make_corpus.py
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def header(avail=2, try_next=True, variant=0, initial=2, max_frame=7, chunk=2, read=3, flag=False, seed=1):
    """avail 0 none / 1 chunk / 2 all; initial, chunk, read: table indexes (see fuzz_support.hpp)."""
    b0 = avail | (4 if try_next else 0) | variant << 3 | initial << 6
    b1 = max_frame | chunk << 3 | read << 5 | (0x80 if flag else 0)
    return bytes([b0, b1]) + struct.pack('>H', seed)


# Two ways to cut each stream: seen whole, and one byte per read with a
# 1-byte initial buffer and no available() (every pause looks idle).
WHOLE = dict(avail=2, chunk=3)
BYTEWISE = dict(avail=0, try_next=False, initial=0, chunk=0, read=0)


# ---- HCP/1 (docs/protocol.md, section 1) ----
def hcp1_field(name):
    return name.encode() + b'\0' * (64 - len(name.encode()))


def hcp1_name_packet(t, name):
    return bytes([t]) + hcp1_field(name)


def hcp1_update(names):
    return b'\x04' + b''.join(hcp1_field(n) for n in names)


def hcp1_message(sender, receiver, text):
    return b'\x05' + hcp1_field(sender) + hcp1_field(receiver) + text.encode()


# ---- HCP/2 (docs/protocol.md, section 2): u32 length (type + payload) | u8 type | payload ----
def f2(t, payload=b''):
    return struct.pack('>IB', 1 + len(payload), t) + payload


def n2(name):
    b = name.encode()
    return bytes([len(b)]) + b


def hcp2_frames():
    return {
        'hello': f2(0x01, b'HCP' + bytes([2]) + struct.pack('>I', 2)),
        'name': f2(0x02, n2('alice')),
        'send': f2(0x03, struct.pack('>IB', 7, 1) + n2('bob') + b'hello'),
        'ping': f2(0x04, struct.pack('>Q', 42)),
        'who': f2(0x05),
        'register': f2(0x10, n2('alice') + b'secret'),
        'join': f2(0x30, n2('lobby')),
        'history-request': f2(0x40, struct.pack('>Q', 0)),
        'welcome': f2(0x81, bytes([2]) + struct.pack('>I', 65536) + b'howdy'),
        'users': f2(0x84, struct.pack('>H', 2) + n2('alice') + n2('bob')),
        'message': f2(0x87, struct.pack('>QQB', 1, 1700000000000000, 0) + n2('alice') + n2('') + b'hi all'),
        'error': f2(0x8F, struct.pack('>HI', 103, 0) + b'malformed'),
        'roster': f2(0x91, struct.pack('>H', 1) + bytes([3]) + n2('alice')),
        'room-list': f2(0xB2, struct.pack('>H', 1) + n2('lobby') + struct.pack('>I', 3)),
        'room-members': f2(0xB3, n2('lobby') + struct.pack('>H', 1) + bytes([1]) + n2('bob')),
        'presence': f2(0x89, struct.pack('>H', 2) + bytes([1]) + n2('a') + bytes([0]) + n2('b')),
        'history-end': f2(0xC0, struct.pack('>QB', 9, 1)),
    }


# ---- seed-002 text protocol (docs/protocol.md, section 3) ----
def t_line(s):
    return (s + '\n\n').encode()


def t_body(word, arg, body):
    return ('%s %s\nContent-length: %d\n\n%s' % (word, arg, len(body.encode()), body)).encode()


TEXT = {
    'register-tosend': t_line('REGISTER TOSEND alice'),
    'register-torecv': t_line('REGISTER TORECV alice'),
    'send': t_body('SEND', 'bob', 'hello bob'),
    'send-all': t_body('SEND', 'ALL', 'hi'),
    'received': t_line('RECEIVED alice'),
    'registered': t_line('REGISTERED TOSEND alice'),
    'forward': t_body('FORWARD', 'alice', 'hi\n\nthere'),
    'sent': t_line('SENT bob'),
    'error': t_line('ERROR 101 No user registered'),
    'session': t_line('REGISTER TOSEND alice') + t_body('SEND', 'bob', 'one') + t_body('SEND', 'ALL', 'two'),
}


def corpus():
    out = {}
    d = out['fuzz-reader-delimited'] = {}
    for name, variant, stream in [('lines', 0, b'hello\nworld\n\nlast\n'),
                                  ('blocks', 1, b'one\ntwo\n\nthree\n\n'),
                                  ('crlf', 2, b'a\r\nb\r\n\r\n'),
                                  ('aab', 4, b'xaaab aab aaaab'),
                                  ('abab', 5, b'abababab x abab'),
                                  ('nul', 7, b'one\0two\0')]:
        d[name] = header(variant=variant, **WHOLE) + stream
        d[name + '-bytewise'] = header(variant=variant, max_frame=5, **BYTEWISE) + stream
    d = out['fuzz-reader-length-prefixed'] = {}
    for name, flag, stream in [('u16', False, b'\x00\x05hello\x00\x00\x00\x01x'),
                               ('u32', True, b'\x00\x00\x00\x03abc\x00\x00\x00\x00')]:
        d[name] = header(flag=flag, **WHOLE) + stream
        d[name + '-bytewise'] = header(flag=flag, max_frame=6, **BYTEWISE) + stream
    d = out['fuzz-reader-header-body'] = {}
    hb = b'SEND bob\nContent-length: 5\n\nhelloRECEIVED x\n\n'
    d['lf'] = header(variant=0, **WHOLE) + hb
    d['lf-bytewise'] = header(variant=0, max_frame=6, **BYTEWISE) + hb
    d['crlf'] = header(variant=1, **WHOLE) + b'GET x\r\nContent-length: 2\r\n\r\nhiPUT y\r\n\r\n'
    d['short-field'] = header(variant=4, **WHOLE) + b'a\nL: 3\n\nabcb\nl:0\n\n'

    hcp1 = {
        'proposal': hcp1_name_packet(1, 'alice'),
        'ack-update': hcp1_name_packet(2, 'alice') + hcp1_update(['alice', 'bob']),
        'nak': hcp1_name_packet(3, 'All'),
        'message': hcp1_name_packet(1, 'alice') + hcp1_message('alice', 'All', 'hello, world'),
        'overlong-proposal': b'\x01' + b'x' * 70 + hcp1_message('x', 'All', 'hi'),
        'utf8-text': hcp1_message('alice', 'bob', 'caf\u00e9 \u2603'),
    }
    d = out['fuzz-hcp1'] = {}
    for name, stream in hcp1.items():
        d[name] = header(**WHOLE) + stream
        d[name + '-bytewise'] = header(**BYTEWISE) + stream
    d = out['fuzz-hcp2'] = {}
    frames = hcp2_frames()
    for name, stream in frames.items():
        d[name] = header(**WHOLE) + stream
    d['session-bytewise'] = header(max_frame=6, **BYTEWISE) + frames['hello'] + frames['name'] + frames['send']
    d['session-chunks'] = header(avail=1, chunk=1, seed=7) + b''.join(frames.values())
    d = out['fuzz-text'] = {}
    for name, stream in TEXT.items():
        d[name] = header(**WHOLE) + stream
    d['session-bytewise'] = header(max_frame=6, **BYTEWISE) + TEXT['session']
    d = out['fuzz-detect'] = {}
    d['hcp2-hello'] = header(**WHOLE) + frames['hello'] + frames['name']
    d['hcp1-proposal'] = header(**WHOLE) + hcp1_name_packet(1, 'alice')
    d['hcp1-overlong'] = header(avail=1, **{k: v for k, v in WHOLE.items() if k != 'avail'}) + b'\x01' + b'y' * 80
    d['text-register'] = header(**WHOLE) + TEXT['register-tosend']
    d['text-send'] = header(**BYTEWISE) + TEXT['send']
    return out


def main():
    for target, files in corpus().items():
        path = os.path.join(HERE, 'corpus', target)
        os.makedirs(path, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(path, name), 'wb') as f:
                f.write(data)
        print('%-30s %d inputs' % (target, len(files)))


if __name__ == '__main__':
    main()
