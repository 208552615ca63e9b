#!/usr/bin/env bash
# Turn every notebook into a reveal.js deck that works with no internet:
# reveal.js and require.js come from npm (slides/package.json), copied beside
# the decks; nothing is loaded from a CDN. Usage: scripts/make_slides.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/slides}
bin=.venv/bin
[ -f slides/node_modules/reveal.js/dist/reveal.js ] || npm ci --prefix slides --no-audit --no-fund --silent
rm -rf "$out"
mkdir -p "$out/vendor/reveal.js"
cp -r slides/node_modules/reveal.js/dist slides/node_modules/reveal.js/plugin "$out/vendor/reveal.js/"
cp slides/node_modules/requirejs/require.js "$out/vendor/require.js"
"$bin/jupyter" nbconvert --to slides --output-dir "$out" \
  --SlidesExporter.reveal_url_prefix=vendor/reveal.js \
  --SlidesExporter.require_js_url=vendor/require.js \
  --SlidesExporter.jquery_url=vendor/require.js \
  --SlidesExporter.font_awesome_url= \
  --SlidesExporter.mathjax_url= \
  --SlidesExporter.reveal_theme=white \
  --TemplateExporter.extra_template_basedirs=slides/templates --template ch9_reveal \
  notebooks/*.ipynb
echo "slides written to $out/ (open any *.slides.html in a browser, offline)"
