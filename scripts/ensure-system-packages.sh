#!/usr/bin/env bash
# Install the external programs the tests, benches and demo start, when missing: the real servers
# (Mosquitto, InfluxDB 1.x, VictoriaMetrics), the browser for the UI tests, socat for the serial
# (pseudo-terminal) tests, and a CJK font for screenshots. Debian packages; the machines run as root.
#
# The table between the markers is the ONE list of those programs: this script installs from it,
# and the test run checks it at start (tests/support/system_programs.py; a missing program fails
# at once naming it and its package). tests/test_system_programs.py fails when a test starts a
# program this table does not name. Columns: program (or an absolute file path), Debian package,
# other places it may live (comma-separated, or -), why it is needed.
# programs-begin
# program                         package             also at                          needed by
# mosquitto                       mosquitto           /usr/sbin/mosquitto              MQTT broker for ingest/agent/fault tests
# mosquitto_passwd                mosquitto           -                                broker with credentials (security tests)
# influxd                         influxdb            -                                InfluxDB 1.x store tests
# victoria-metrics                victoria-metrics    -                                InfluxDB v2 write endpoint tests
# chromium                        chromium            -                                web UI browser tests, screenshots
# chromedriver                    chromium-driver     -                                selenium's driver for chromium
# socat                           socat               -                                Modbus RTU over a pseudo-terminal
# openssl                         openssl             -                                test certificates (TLS tests)
# mount                           mount               -                                a small tmpfs for the disk-full fault rows
# umount                          mount               -                                a small tmpfs for the disk-full fault rows
# /usr/share/fonts/truetype/wqy/wqy-microhei.ttc  fonts-wqy-microhei  -              Chinese text in screenshots
# programs-end
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
need=()
while read -r _hash prog pkg also _why; do
  found=""
  if [[ "$prog" == /* ]]; then
    [ -e "$prog" ] && found=1
  else
    command -v "$prog" >/dev/null 2>&1 && found=1
    if [ -z "$found" ] && [ "$also" != "-" ]; then
      IFS=',' read -ra alts <<<"$also"
      for alt in "${alts[@]}"; do [ -x "$alt" ] && found=1; done
    fi
  fi
  if [ -z "$found" ] && [[ " ${need[*]:-} " != *" $pkg "* ]]; then need+=("$pkg"); fi
done < <(sed -n '/^# programs-begin$/,/^# programs-end$/p' "$here/ensure-system-packages.sh" | sed '1,2d;$d')
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packages' own services are not used: tests start their own instances on free ports.
