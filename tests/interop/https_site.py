"""A one-page HTTPS site on 127.0.0.1 for the live fetch test
(tests/proxy/proxy_real.rs): a self-signed certificate for `localhost`,
written to the path given so the fetch server can trust it (SSL_CERT_FILE),
no robots.txt (404: fetching allowed), and the same HTML page on every
other path. Prints the port it listens on, then serves until killed.

usage: https_site.py CERT_PATH

`cryptography` comes with the pinned `mcp` SDK (it requires `pyjwt[crypto]`).
"""
import datetime
import http.server
import ssl
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGE = b"<html><head><title>Release notes</title></head><body><h1>Release notes</h1><p>Version 2 ships the fetch fix.</p></body></html>"


def certificate(cert_path: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    key_file = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")
    key_file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.close()
    return key_file.name


class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = (404, b"") if self.path == "/robots.txt" else (200, PAGE)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


key_path = certificate(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], key_path)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
