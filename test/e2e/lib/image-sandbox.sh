#!/usr/bin/env bash
# Runs one command roughly the way a container runtime runs the nodemeta image, with what Linux
# and util-linux offer (there is no container engine on the development machines):
#
#   - new mount and PID namespaces (the host's network namespace stays, so the process reaches the
#     emulator and the API server on 127.0.0.1, as a hostNetwork pod reaches the node's addresses);
#   - a new root file system: an empty tmpfs holding only what --base copies in and what --bind and
#     --executable mount (read-only unless `:rw`), /proc of the new PID namespace and the device
#     nodes null, zero, full, random and urandom; then the tmpfs itself is remounted read-only, so
#     anything the process writes outside an `:rw` bind fails with EROFS;
#   - the process runs as --user UID:GID with no supplementary groups, no capabilities (permitted,
#     effective, inheritable and ambient sets empty), no_new_privs set, working directory
#     --workdir, exactly the environment given by --env, and it is PID 1 of its PID namespace as
#     the entrypoint of a container is (a SIGTERM reaches it only if it handles SIGTERM).
#
# Usage (as root):
#   bash image-sandbox.sh --mountpoint DIR [--base DIR] [--executable SRC:DST]... [--bind SRC:DST[:rw]]...
#                    [--user UID:GID] [--workdir DIR] [--env NAME=VALUE]... -- COMMAND [ARG]...
#
#   --mountpoint DIR      an empty directory where the new root is assembled (in the private mount
#                         namespace: the host sees it empty; the caller removes it afterwards)
#   --base DIR            copied into the new root first (e.g. etc/passwd), before it turns read-only
#   --executable SRC:DST  SRC mounted read-only at DST, with the shared libraries `ldd SRC` names
#                         mounted read-only at the paths ldd gives
#   --bind SRC:DST[:rw]   a file or directory, read-only unless :rw; in the order given (a bind
#                         inside an earlier one comes after it)
#
# The process started is the last of a chain of exec()s (env -i, setpriv, unshare --root): the pid
# the caller sees is this script's, which becomes `unshare --fork --kill-child` (it exits with the
# process's status, and killing it kills the process); the process itself is its only child.
# test/e2e/lib/image-sandbox.ts drives it; docs/cluster.md#the-artefact-as-shipped says what it proves.
set -euo pipefail

die() {
  echo "image-sandbox: $*" >&2
  exit 125
}

mountpoint='' base='' workdir=/ user=65532:65532 inside=0
binds=() executables=() envs=()
while (($# > 0)); do
  case $1 in
    --mountpoint) mountpoint=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --executable) executables+=("$2"); shift 2 ;;
    --bind) binds+=("$2"); shift 2 ;;
    --user) user=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --inside) inside=1; shift ;;
    --) shift; break ;;
    *) die "unknown argument $1 (see the usage at the top of $0)" ;;
  esac
done
(($# > 0)) || die 'no command given after --'
[[ -n $mountpoint && -d $mountpoint ]] || die "--mountpoint must be an existing directory (got '$mountpoint')"
[[ $user =~ ^[0-9]+:[0-9]+$ ]] || die "--user must be UID:GID, numeric (got '$user')"
[[ $(id -u) == 0 ]] || die 'must run as root (mount and PID namespaces, bind mounts)'

if ((inside == 0)); then
  # Re-run this script as PID 1 of new mount and PID namespaces; mounts there are private.
  args=(--mountpoint "$mountpoint" --user "$user" --workdir "$workdir")
  [[ -n $base ]] && args+=(--base "$base")
  for x in "${executables[@]}"; do args+=(--executable "$x"); done
  for x in "${binds[@]}"; do args+=(--bind "$x"); done
  for x in "${envs[@]}"; do args+=(--env "$x"); done
  exec unshare --mount --pid --fork --kill-child --propagation private -- "${BASH:-bash}" "$0" --inside "${args[@]}" -- "$@"
fi

root=$mountpoint
# nosuid: no set-uid file in the new root grants anything. Not nodev: the device nodes are bind
# mounts of the host's (their own mounts, writable: writing to /dev/null is no file-system write).
mount -t tmpfs -o mode=0755,nosuid,size=8m nodemeta-image "$root"
if [[ -n $base ]]; then cp -a "$base/." "$root/"; fi

# Creates the mount point of DST (a file or a directory, like SRC) in the new root.
mount_point_for() {
  local src=$1 dst=$2
  if [[ -d $src ]]; then
    mkdir -p "$root$dst"
  else
    mkdir -p "$root$(dirname "$dst")"
    [[ -e $root$dst ]] || : >"$root$dst"
  fi
}

bind() {
  local src=$1 dst=$2 mode=$3
  [[ -e $src ]] || die "bind source $src does not exist"
  [[ $dst == /* ]] || die "bind target $dst is not absolute"
  mount_point_for "$src" "$dst"
  # mount(8) applies the options to the new bind mount itself (a bind followed by a remount).
  if [[ $mode == ro ]]; then
    mount --bind -o ro,nosuid,nodev "$src" "$root$dst"
  else
    mount --bind -o nosuid,nodev "$src" "$root$dst"
  fi
}

for spec in "${executables[@]}"; do
  src=${spec%%:*} dst=${spec#*:}
  bind "$src" "$dst" ro
  # `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and `/lib64/ld-linux-x86-64.so.2 (0x…)`.
  while read -r lib; do
    bind "$(realpath "$lib")" "$lib" ro
  done < <(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' | sort -u)
done

for spec in "${binds[@]}"; do
  IFS=: read -r src dst mode <<<"$spec"
  case ${mode:-ro} in
    ro | rw) bind "$src" "$dst" "${mode:-ro}" ;;
    *) die "bind mode must be ro or rw, not '$mode' ($spec)" ;;
  esac
done

mkdir -p "$root/proc"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
for dev in null zero full random urandom; do
  mount_point_for "/dev/$dev" "/dev/$dev"
  mount --bind "/dev/$dev" "$root/dev/$dev"
done

# The root file system turns read-only; the bind mounts keep their own modes.
mount -o remount,ro,nosuid "$root"

# The chain: env -i (exactly the given environment), setpriv (no_new_privs; a bounding set of only
# what unshare still needs), unshare --root (chroot and working directory, then the group and the
# user: setgroups([]), setgid, setuid, which empties the permitted and effective sets), the command.
# Every step is an exec, so the command is PID 1 of the new PID namespace.
setpriv=$(command -v setpriv)
unshare=$(command -v unshare)
env=$(command -v env)
exec "$env" -i "${envs[@]}" "$setpriv" --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all,+setuid,+setgid,+sys_chroot -- \
  "$unshare" --root="$root" --wd="$workdir" --setgid="${user#*:}" --setuid="${user%%:*}" -- "$@"
