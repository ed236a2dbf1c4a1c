#!/usr/bin/env bash
# Install what tests/engines/lucene_engine.py needs: a JDK (java + javac) and Debian's Apache Lucene 8 jars
# (lucene-core, lucene-queryparser, lucene-misc, all in liblucene8-java, under /usr/share/java).
# Idempotent: does nothing when everything is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

have_jars() {
    compgen -G "/usr/share/java/lucene-core-*.jar" >/dev/null &&
        compgen -G "/usr/share/java/lucene-queryparser-*.jar" >/dev/null &&
        compgen -G "/usr/share/java/lucene-misc-*.jar" >/dev/null
}

if have_jars && command -v java >/dev/null && command -v javac >/dev/null; then
    echo "install-lucene: java, javac and the Lucene jars are already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

packages=(liblucene8-java)
if ! command -v javac >/dev/null; then
    packages+=(default-jdk-headless)
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${packages[@]}"

have_jars || { echo "install-lucene: Lucene jars still missing under /usr/share/java" >&2; exit 1; }
echo "install-lucene: done"
