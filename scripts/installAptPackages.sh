# Sourced by the setup scripts: installAptPackages <log prefix> <package>... installs the Debian
# packages that are missing (as root, or through sudo), and nothing when all are present.
installAptPackages() {
    local prefix=$1; shift
    local missing=()
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        printf '[%s] Debian packages present\n' "$prefix"
        return
    fi
    printf '[%s] installing Debian packages: %s\n' "$prefix" "${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
