#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_scram.cpp: complete valid exchanges for the fuzz target's
fixed password, salt and nonces (so the fuzzer starts past the proof checks), plus near misses.

    python3 protocol/auth/tools/gen_fuzz_scram_corpus.py
"""
import hashlib, hmac, base64, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'tests', 'fuzz', 'corpus', 'fuzz_scram')
pw, salt, it = b'fuzz-password', b'0123456789abcdef', 16
cn, sn = 'fuzzclientnonce', 'fuzzservernonce'
binding = b'B' * 32
salted = hashlib.pbkdf2_hmac('sha256', pw, salt, it)
ck = hmac.new(salted, b'Client Key', 'sha256').digest()
sk = hmac.new(salted, b'Server Key', 'sha256').digest()
stored = hashlib.sha256(ck).digest()
b64 = lambda b: base64.b64encode(b).decode()
secret = f'SCRAM-SHA-256${it}:{b64(salt)}${b64(stored)}:{b64(sk)}'

def exchange(gs2, cbind=b''):
    bare = f'n=,r={cn}'
    server_first = f'r={cn}{sn},s={b64(salt)},i={it}'
    without = f'c={b64(gs2.encode() + cbind)},r={cn}{sn}'
    am = f'{bare},{server_first},{without}'.encode()
    sig = hmac.new(stored, am, 'sha256').digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    final = f'{without},p={b64(proof)}'
    v = 'v=' + b64(hmac.new(sk, am, 'sha256').digest())
    return gs2 + bare, final, server_first, v

def write(name, flags, parts):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes([flags]) + '\n'.join(parts).encode())

os.makedirs(out, exist_ok=True)
cf, fin, sf, v = exchange('n,,')
write('valid_plain', 0, [cf, fin, sf, v, secret, b64(b'hello world')])
cf, fin, sf, v = exchange('y,,')
write('valid_tls_no_binding', 4, [cf, fin, sf, v, 'p\u00e4ssw\u00f6rd', 'Zm9vYmFy'])
cf, fin, sf, v = exchange('p=tls-server-end-point,,', binding)
write('valid_plus', 1 | 2 | 4 | 8, [cf, fin, sf, v, 'I\u00adX\u2168', 'Zg=='])
cf, fin, sf, v = exchange('y,,')
write('downgrade_y_with_plus_offered', 1 | 4, [cf, fin, sf, v, '\u0627\u0031', 'Zm8='])
write('rfc7677', 0, [
    'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    'SCRAM-SHA-256$4096:jU6/AePJ5dIaRJIcxxFOOw==$EwTWaCr+q5ugy/HUYe9DlEmBR21XPZUs0YwqHJrf+lQ=:M+AAVJGt4COgDByGEPb1f3XSMv1J0CtXuwFsqeVrFMM=',
    'W22ZaJ0SNY7soEsUEjb6gQ=='])
cf, fin, sf, v = exchange('n,,')
write('server_error_and_authzid', 0, ['n,a=admin,n=,r=' + cn, fin, sf, 'e=invalid-proof', 'SCRAM-SHA-256$0:$:', '===='])
write('huge_iterations', 0, [cf, fin.replace('p=', 'p=A'), f'r={cn}{sn},s={b64(salt)},i=10000001', v, 'md5871c429757b7a0bf1654fad112b77bd4', 'Zh=='])
write('extensions', 0, [cf + ',x=ext', fin.replace(',p=', ',x=1,p='), sf + ',x=1', v + ',x=1', 'pa\u0308sswo\u0308rd\u2135', 'Zm9v\nYmFy'])
print(sorted(os.listdir(out)))
