"""Each recognizer on real code: planted values found at their exact span, near misses not."""

from __future__ import annotations

import pytest

from pii import scan_text
from tests.pii.conftest import CLEAN_MODULES, plant, stdlib_text


def found(text: str, path: str | None = None) -> list[tuple[str, str]]:
    return [(f.cls, text[f.start:f.end]) for f in scan_text(text, path)]


def assert_found_at(text: str, span: tuple[int, int], cls: str, path: str | None = None) -> None:
    hits = [(f.cls, f.start, f.end) for f in scan_text(text, path)]
    assert (cls, *span) in hits, f"{cls} at {span} ({text[span[0]:span[1]]!r}) not in {hits}"


# -- e-mail -----------------------------------------------------------------------------------

@pytest.mark.parametrize("template,value", [
    ("# Maintainer: Ana Lima <{}>", "ana.lima@posteo.de"),
    ('__author_email__ = "{}"', "r.okafor+pypi@fastmail.com"),
    ('    """Report bugs to {}."""', "hsu.mei-ling@cs.stanford.edu"),
    ('CONTACT = {{"email": "{}"}}', "k.nowak@acme-robotics.io"),
])
def test_email_planted_in_real_code_found_at_its_span(decoder_py, template, value):
    text, span = plant(decoder_py, 40, template, value)
    assert_found_at(text, span, "email")


@pytest.mark.parametrize("line", [
    'AUTHOR = "docs@example.com"', 'x = "jane@mail.example.org"', "# 1234+jdoe@users.noreply.github.com",
    'REPO = "git@github.com:org/repo.git"', "y = a@self.weights.T", 'img = "icon@2x.png"',
    'dep = "lodash@4.17.21"', 'addr = "user@localhost"', 'sender = "noreply@stripe.com"',
    '@app.route("/login")', 'to = "fake.user@gmail.com"', 'mid = "<a4929a40-6328-491a-aaaf-cb79ed7309a2@g2.googlegroups.com>"',
    'ref = "<hvalf7$ort$1@dough.gmane.org>"',
    # verbatim from the stdlib: test_httplib.py (userinfo without a scheme), smtplib.py's and
    # test_headerregistry.py's placeholder addresses
    '        for hp in ("www.python.org:abc", "user:password@www.python.org"):',
    '         >>> tolist=["one@one.org","two@two.org","three@three.org","four@four.org"]',
    '             "My address is very long because my name is long" <foo@bar.com>,',
])
def test_email_look_alikes_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [c for c, _ in found(text) if c == "email"] == []


@pytest.mark.parametrize("line", ['<a href="mailto:ana.lima@posteo.de">', "# Email:ana.lima@posteo.de",
                                  "    Contact: ana.lima@posteo.de"])
def test_email_after_a_label_and_colon_still_found(line):
    assert found(line + "\n") == [("email", "ana.lima@posteo.de")]


def test_url_credentials_are_not_an_email():
    text = 'DSN = "postgres://bob_k:Hx7!rT2q@db.acme-corp.io:5432/prod"\n'
    assert ("email", "Hx7!rT2q@db.acme-corp.io") not in found(text)
    assert ("password", "Hx7!rT2q") in found(text)


# -- IP addresses ---------------------------------------------------------------------------

@pytest.mark.parametrize("template,value", [
    ('SERVER = "{}"', "93.184.216.34"),
    ("# the replica listens on {}:6379", "151.101.1.69"),
    ('upstream = "http://{}:8080/api"', "52.14.201.7"),
    ('PEER = "{}"', "2a00:1450:4001:82a::200e"),
    ('ALLOWED = ["{}"]', "2606:4700:4700::1234"),
])
def test_public_ip_planted_in_real_code_found(decoder_py, template, value):
    text, span = plant(decoder_py, 40, template, value)
    assert_found_at(text, span, "ip_address")


@pytest.mark.parametrize("line", [
    'HOST = "192.168.1.20"', 'HOST = "10.0.0.1"', 'HOST = "172.16.4.2"', 'LOOP = "127.0.0.1"',
    'LINK = "169.254.10.1"', 'MCAST = "239.255.255.250"', 'DOC = "203.0.113.7"', 'DOC = "198.51.100.23"',
    'V6 = "2001:db8::1"', 'V6 = "fe80::1ff:fe23:4567:890a"', 'V6 = "::1"', 'V6 = "ff02::1"',
    'DNS = "8.8.8.8"', '__version__ = "2.31.0.1"', "requests==2.31.0.4", 'release = "1.4.10.2"',
    'x = "1.2.3.4"', 'remote_addr = "1.2.3.4"', 'ip = "170.170.170.170"', "std::vector<int> a::b;", 'mac = "00:1A:2B:3C:4D:5E"', 'when = "12:30:45"',
    'h = "dead:beef::"', "# see RFC section 4.10.22.7", 'oid = ObjectIdentifier("2.5.4.3")',
    # verbatim from site-packages: cfn-lint's engine_version.json, ray's worker.py docstring,
    # opentelemetry's http_attributes.py
    '       "11.5.9.0.sb00000000.r1",', '        ray.init(address="ray://123.45.67.89:10001")',
    "- A header `X-Forwarded-For: 1.2.3.4, 1.2.3.5` SHOULD be recorded as the",
    '''        assertBadAddressPart("3ffe::1.net", "Expected 4 octets in '1.net'")''',  # test_ipaddress.py
])
def test_ip_look_alikes_and_excluded_ranges_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [v for c, v in found(text) if c == "ip_address"] == []


def test_ip_at_the_end_of_a_sentence_found():
    assert found("The replica listens on 93.184.216.34.\n") == [("ip_address", "93.184.216.34")]


def test_single_digit_quad_kept_beside_a_network_word():
    assert ("ip_address", "4.2.2.1") in found('dns_server = "4.2.2.1"\n')
    assert found('release = "4.2.2.1"\n') == []


# -- keys and secrets -------------------------------------------------------------------------

PEM_BODY = ("MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi3B8b9pYbKbF0Yr5f7bP3J7vKs\n"
            "Xb5mTq9JkP7nL2vW4yR8sD1fG6hA0zC3eU5iO7pQ9rS2tV4wX6yZ8aB1cD3eF5gH\n"
            "k2Lm4No6Pq8Rs0Tu2Vw4Xy6Za8Bc0De2Fg4Hi6Jk8Lm0No2Pq4Rs6Tu8Vw0Xy2Z")


@pytest.mark.parametrize("template,value", [
    ('AWS_ACCESS_KEY_ID = "{}"', "AKIA4FJQ7XQ2ZJ5KLM3P"),
    ("    token = '{}'", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"),
    ('SLACK = "{}"', "xoxb-2384729384-2384723984723-aBcDeFgHiJkLmNoPqRsTuVwX"),
    ('stripe.api_key = "{}"', "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ('MAPS = "{}"', "AIzaSyD3xQ8vLr5Kp2Wm9Tn4Bc7Hj1Fg6Ys0Ue8"),
    ('auth = "Bearer {}"', "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
                           "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    ('SECRET_KEY = "{}"', "q8Zr4Tn1Vx6Lp3Ws9Kd2Hf7Jb5Mc0Ga"),
    ('    "client_secret": "{}",', "9f8c2e7a41d3b6c05e9a7d2f1b8c4e60"),
    ("api_token: {}", "Zx81kQ0pLm27VbT5nR4wYc9e"),
    ('headers = {{"X-Api-Key": "{}"}}', "qGJPFg1mqEdfojBJ1OgXmxM8TSVCiS"),
    ("# curl -H 'Authorization: token {}' https://api.acme.io", "495db9e1340d039f6a3ca8826f2b4e0df28863be"),
    # a name whose last word is `key`, and detect-secrets KeywordDetector's key names
    ('    r = requests.get(url, params={{"key": "{}"}})', "Juqr7mgSYCOfE5hkAb0V4jYv2bw"),
    ('key = "{}"', "fc1753582bd84894a596c03227b7d1d326ec985776e1df8de7c5fa616fc6e7fe"),
    ("  apiKey: {}", "T9LzS37nZNqlFkJ084rWkWOU40"),
    ('client_key = "{}"', "eLPFlbykz1a3hPBcx3KJSyHprhevaM7wbEDNmTM"),
    # service tokens on lines without a secret-like word
    ('bot = telebot.TeleBot("{}")', "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"),
    ("client.run('{}')", "NzEyMzQ1Njc4OTAxMjM0NTY3.GxYz12.kR8sT2vW4xY6zA8bC0dE2fG4hI6"),
    ('client = Client("AC5d3b0f8e1a2c4e6b8d0f2a4c6e8b0d2f", "{}")', "8f14e45fceea167a5a36dedd4bea2543"),
    ('TWILIO = ("AC5d3b0f8e1a2c4e6b8d0f2a4c6e8b0d2f", "{}")', "9a0364b9e99bb480dd25e1f0284c8555"),
])
def test_secret_planted_in_real_code_found(decoder_py, template, value):
    text, span = plant(decoder_py, 40, template, value)
    assert_found_at(text, span, "key")


def test_private_key_body_found_armour_kept(decoder_py):
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
    text, _ = plant(decoder_py, 40, 'KEY = """{}"""', pem)
    keys = [v for c, v in found(text) if c == "key"]
    assert keys == PEM_BODY.split("\n")


def test_private_key_inside_escaped_python_string():
    body = PEM_BODY.replace("\n", "\\n")
    text = f'KEY = "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"\n'
    assert [v for c, v in found(text) if c == "key"] == PEM_BODY.split("\n")


@pytest.mark.parametrize("line", [
    'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"', 'token = "123e4567-e89b-12d3-a456-426614174000"',
    'token_type = "Bearer"', 'SECRET_KEY = "${SECRET_KEY}"', 'api_key = "{{ api_key }}"',
    'secret = "your-api-key-goes-here"', 'SECRET_KEY_ENV = "DJANGO_SECRET_KEY"',
    'token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    'tokenizer_file = "tokenizer-7b.json"', 'secret = settings.SECRET_KEY_VALUE',
    '"NextToken": "eyJDdXN0b21lciI6IjEyMyJ9XyZ"', 'secret = "dummy-secret-Abc12345678"',
    "public_key = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE'", '"AWS::SecretsManager::Secret": "c85175a4ebcce361",',
    "    state_credentials: StateCredentials,",
    # verbatim from botocore's kinesis paginators-1.json: a JMESPath query, not a token
    '      "output_token": "StreamDescription.Shards[-1].ShardId",',
    # keys that look things up, and words ending in "key"
    'cache_key = "fc1753582bd84894a596c03227b7d1d326ec985776e1df8de7c5fa616fc6e7fe"',
    '"partitionKey": "Zx81kQ0pLm27VbT5nR4wYc9e"', 'monkey = "Juqr7mgSYCOfE5hkAb0V4jYv2bw"',
    "rows.sort(key=lambda kv: kv[1])", 'key = "max_position_embeddings"',
    # 32 hex digits without Twilio beside them, or on a hash line; a low-entropy Telegram shape
    'etag = "8f14e45fceea167a5a36dedd4bea2543"',
    "twilio-6.0.0.tar.gz#md5=8f14e45fceea167a5a36dedd4bea2543",
    'stamp = "20230101:abcdefghijklmnopqrstuvwxyzabcdefghi"',
    # a Discord-shaped string whose first part is not a base64 user id
    'ref = "MainWindowLayoutConfigXY.abcdef.ghijklmnopqrstuvwxyzabcdefg"',
])
def test_secret_look_alikes_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [v for c, v in found(text) if c == "key"] == []


def test_lock_file_hashes_are_not_secrets():
    text = ('{\n  "packages": {\n    "node_modules/left-pad": {\n      "version": "1.3.0",\n'
            '      "integrity": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQEkZaY6bvZzGxcEyUHWK0tFCC2HrC0Kr2mXIiQ",\n'
            '      "resolved_token": "Zx81kQ0pLm27VbT5nR4wYc9eQ2"\n    }\n  }\n}\n')
    assert [c for c, _ in found(text, "package-lock.json") if c == "key"] == []
    assert [c for c, _ in found(text, "config.json") if c == "key"] == ["key"]


# -- passwords and usernames ------------------------------------------------------------------

@pytest.mark.parametrize("template,value,path", [
    ('    conn = connect(host=h, password="{}")', "Tr0ub4dor&3", None),
    ('DB_PASSWORD = "{}"', "v9#Lq2!mZp", None),
    ("  password: {}", "s3cr3t-Hunter2", "config.yaml"),
    ("DB_PASS={}", "Wq7-pL2x9K", ".env"),
    ('DSN = "mysql://app_rw:{}@mysql.internal.acme.io/app"', "N0t-Guessable!", None),
    ('CONN = "Server=tcp:sql.acme.io;Database=app;User Id=mwhite;Password={};"', "Qz9!vLp2", None),
    ('PG = "host=pg.acme.io dbname=app user=ops_ro password={}"', "Zr8w2Ltq", None),
    ('  "pass": "{}",', "Y$oL6BdvY2Ae7", "creds.json"),
    ("PGPASSWORD={} psql -h db.acme.io -U ops", "junipernimbus31", "README.md"),
    ("mysql -u ops -p'{}' app", "Monkey972^", "README.md"),
    ("machine api.acme.io login ops password {}", "rIveTRiVEt52", ".netrc"),
    ("machine api.acme.io login ops password {}", "l&qT_d_?z6", ".netrc"),  # `&` is no shell operator here
    ("    --password={} \\", "Qw3-rty-Zx9", "deploy.sh"),
])
def test_password_planted_in_real_code_found(decoder_py, template, value, path):
    text, span = plant(decoder_py, 40, template, value)
    assert_found_at(text, span, "password", path)


@pytest.mark.parametrize("line", [
    'password = os.environ["DB_PASSWORD"]', 'password = input("Enter password: ")', 'prompt = "Password:"',
    'password_hash = "pbkdf2_sha256$260000$abc$def"', 'password = "password"', 'password = "{password}"',
    'password = "***"', "PASSWORD_MIN_LENGTH = 12", "pwd = os.getcwd()", "login(user=user, password=password)",
    'url = "https://user:password@example.com/x"', 'password = "%(password)s"', 'password = "${DB_PASSWORD}"',
    'password = "fake-password-1"', 'pwd = "/home/runner/work"', "nntp(user=None, password=None, timeout=3)",
    'bypass_cache = "abc123def"', "user_pass = '%s:%s' % (user, pw)", 'password_last_used = "not_supported"',
    "# pass them via the --username and --password options", "'MODULE_PWD_STATE': 'yes',", "FILTERS = {'pass': 'bandpass'}", 'compass = "N12x"', "psql --password $PGPASS", "mysql -u root -p app",
    # verbatim from site-packages: fsspec's gist.py, botocore's rds examples-1.json,
    # detect-secrets' ibm_cloud_iam.py
    "        # The default infer_storage_options can handle gist://username:token@id/file",
    '          "MasterUserPassword": "mynewpassword",', "    key_or_pass = r'(?:key|pwd|password|pass|token)'",
])
def test_password_look_alikes_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [v for c, v in found(text) if c in ("password", "username")] == []


def test_username_in_url_and_connection_string_found():
    assert ("username", "app_rw") in found('u = "mysql://app_rw:N0t-Guessable!@mysql.acme.io/app"\n')
    assert ("username", "mwhite") in found('c = "Server=sql.acme.io;User Id=mwhite;Password=Qz9!vLp2;"\n')


def test_service_accounts_and_lone_usernames_ignored():
    assert found('u = "postgres://postgres:Hx7rT2q9@db.acme.io/app"\n') == [("password", "Hx7rT2q9")]
    assert found('username = "jdoe"\n') == []


# -- untouched real code ---------------------------------------------------------------------

@pytest.mark.parametrize("name", CLEAN_MODULES)
def test_untouched_stdlib_module_has_no_findings(name):
    assert found(stdlib_text(name), name) == []
