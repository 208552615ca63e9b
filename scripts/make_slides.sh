#!/usr/bin/env bash
# Turn every notebook into a reveal.js deck that works with no internet:
# reveal.js, require.js and MathJax come from npm (slides/package.json), copied beside
# the decks; nothing is loaded from a CDN. Usage: scripts/make_slides.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/slides}
bin=.venv/bin
[ -f slides/node_modules/reveal.js/dist/reveal.js ] && [ -f slides/node_modules/mathjax/MathJax.js ] \
  && [ -d slides/node_modules/@jupyter-widgets/html-manager/dist ] || npm ci --prefix slides --no-audit --no-fund --silent
rm -rf "$out"
mkdir -p "$out/vendor/reveal.js"
cp -r slides/node_modules/reveal.js/dist slides/node_modules/reveal.js/plugin "$out/vendor/reveal.js/"
cp slides/node_modules/requirejs/require.js "$out/vendor/require.js"
# Saved widget views (the explorers' last picture) render with the HTML manager.
cp -r slides/node_modules/@jupyter-widgets/html-manager/dist "$out/vendor/html-manager"
# MathJax 2 (the version nbconvert's reveal template talks to): only the parts
# that the TeX-AMS_CHTML-full configuration loads.
mj=slides/node_modules/mathjax
for part in MathJax.js config/TeX-AMS_CHTML-full.js config/Safe.js extensions jax/input/TeX \
            jax/output/CommonHTML jax/element fonts/HTML-CSS/TeX/woff localization/en; do
  mkdir -p "$out/vendor/mathjax/$(dirname "$part")"
  cp -r "$mj/$part" "$out/vendor/mathjax/$part"
done
"$bin/jupyter" nbconvert --to slides --output-dir "$out" \
  --SlidesExporter.reveal_url_prefix=vendor/reveal.js \
  --SlidesExporter.require_js_url=vendor/require.js \
  --SlidesExporter.jquery_url=vendor/require.js \
  --SlidesExporter.font_awesome_url= \
  --SlidesExporter.widget_renderer_url=vendor/html-manager/embed-amd.js \
  --SlidesExporter.mathjax_url="vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe" \
  --SlidesExporter.reveal_theme=white \
  --TemplateExporter.extra_template_basedirs=slides/templates --template ch9_reveal \
  notebooks/*.ipynb
echo "slides written to $out/ (open any *.slides.html in a browser, offline)"
