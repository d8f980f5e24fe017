#!/usr/bin/env bash
# Makes the private CA of a posfee cluster and one certificate per host, used by nats-server
# both for its clients (services, kiosks, operators' tools) and for the routes between the
# nodes (mutual TLS: each node presents its certificate as a client too).
#
#   make-certs.sh [-o OUT] [-d DAYS] HOST[,ALT...] ...
#   make-certs.sh -o certs posfee-1.internal posfee-2.internal posfee-3.internal
#
# HOST is the name clients and the other nodes use for the host (the certificate's first
# subject alternative name and the folder it goes in); ALT adds more names or IP addresses
# (posfee-1.internal,10.0.0.11). -d sets the host certificates' days of validity (825; the
# CA's are 3650). Writes, with every key 0600:
#
#   OUT/ca.key, OUT/ca.crt      the CA: keep ca.key off the hosts, offline
#   OUT/HOST/ca.crt             the CA certificate    -> /etc/posfee/tls/ca.crt on each host
#   OUT/HOST/server.crt, .key   the host's pair       -> /etc/posfee/tls/ on that host
#
# An existing OUT/ca.key is reused, so a renewed or added host certificate is trusted by
# everything that already trusts the CA; a host's existing certificate is replaced.
# The phones' WebSocket listener (port 443) needs a certificate from a public CA instead:
# phones do not trust this one.
set -euo pipefail

out=certs
days=825
ca_days=3650

usage() {
    echo "usage: make-certs.sh [-o OUT] [-d DAYS] HOST[,ALT...] ..." >&2
    exit 2
}

while getopts "o:d:h" opt; do
    case "$opt" in
        o) out=$OPTARG ;;
        d) days=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ "$#" -ge 1 ] || usage
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }

for spec in "$@"; do
    host=${spec%%,*}
    if [[ -z $host || $host == */* || $host == .* ]]; then
        echo "make-certs.sh: $spec does not start with a host name" >&2
        exit 2
    fi
done

umask 077
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs openssl quietly: its chatter only when it fails.
ossl() {
    local msg
    if ! msg=$(openssl "$@" 2>&1); then
        printf 'make-certs.sh: openssl %s failed:\n%s\n' "$1" "$msg" >&2
        exit 1
    fi
}

san_of() { # a,b,10.0.0.1 -> DNS:a,DNS:b,IP:10.0.0.1
    local san="" name names
    IFS=, read -r -a names <<<"$1"
    for name in "${names[@]}"; do
        [ -n "$name" ] || continue
        if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
            san+="${san:+,}IP:$name"
        else
            san+="${san:+,}DNS:$name"
        fi
    done
    printf '%s' "$san"
}

serial() { printf '0x%s' "$(openssl rand -hex 16)"; }

if [ -f "$out/ca.key" ]; then
    [ -f "$out/ca.crt" ] || { echo "make-certs.sh: $out/ca.key without $out/ca.crt" >&2; exit 1; }
    echo "reusing the CA in $out"
else
    ossl req -x509 -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$out/ca.key" -out "$out/ca.crt" \
        -days "$ca_days" -set_serial "$(serial)" \
        -subj "/O=posfee/CN=posfee cluster CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
    chmod 0644 "$out/ca.crt"
    echo "made the CA: $out/ca.crt (keep $out/ca.key offline)"
fi

for spec in "$@"; do
    host=${spec%%,*}
    dir="$out/$host"
    mkdir -p "$dir"
    ext="$work/$host.ext"
    cat >"$ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $(san_of "$spec")
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
    ossl req -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$dir/server.key" -out "$work/$host.csr" \
        -subj "/O=posfee/CN=$host"
    ossl x509 -req -in "$work/$host.csr" -out "$dir/server.crt" \
        -CA "$out/ca.crt" -CAkey "$out/ca.key" -set_serial "$(serial)" \
        -days "$days" -extfile "$ext"
    cp "$out/ca.crt" "$dir/ca.crt"
    chmod 0600 "$dir/server.key"
    chmod 0644 "$dir/server.crt" "$dir/ca.crt"
    # Usable both ways: as a server (clients, routes it accepts) and as a client (routes it dials).
    ossl verify -CAfile "$out/ca.crt" -purpose sslserver "$dir/server.crt"
    ossl verify -CAfile "$out/ca.crt" -purpose sslclient "$dir/server.crt"
    echo "made $dir/server.crt for $(san_of "$spec")"
done
