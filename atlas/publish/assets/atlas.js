/* Pilot-Region Carbon Atlas: the page-side code of the published maps.
 *
 * Everything shown to the reader that comes from data is put into the page with
 * textContent or setAttribute, never innerHTML, so a region called "<script>" shows
 * as text. Leaflet's bindTooltip/bindPopup treat strings as HTML, so they are always
 * given DOM elements built here.
 *
 * The Python side (atlas/publish/maps.py, map_config) embeds one JSON payload per page in
 * <script type="application/json" id="atlas-map-data">, read by AtlasPage.mount:
 *   payload.pilots    id -> {name_zh, name_en, pinyin, page, popup: [[title, [[label, value]...]]...],
 *                            values: {layer_id: [class_index or -1, text]}}
 *   payload.features  GeoJSON FeatureCollection of outlines, properties {id, nested?}, largest first
 *   payload.context   GeoJSON of province outlines drawn as context (may be null)
 *   payload.thematic  choropleth specs (radio buttons), payload.overlays raster images (checkboxes)
 *   payload.bounds    [[south, west], [north, east]], payload.basemap tile provider or null
 *
 * Drawing rules: a pilot inside a pilot province (feature.properties.nested) is an outline in
 * its class colour over the province's fill, so no two translucent fills blend into a colour
 * the legend lacks; while a raster overlay is shown every fill turns transparent (outlines
 * stay) so the raster is seen as its legend says.
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function fold(text) {
    // Lower case, no tone marks, no spaces or punctuation: "Xī'ān" and "xi an" both become "xian".
    return String(text || "").toLowerCase().normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "").replace(/[\s'\u2019\u00b7.\-]/g, "");
  }

  function keyValueTable(rows) {
    var table = el("table", "atlas-kv");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
      table.appendChild(tr);
    });
    return table;
  }

  function heading(pilot) {
    var head = el("div", "atlas-head");
    head.appendChild(el("strong", null, pilot.name_zh));
    head.appendChild(el("span", "atlas-en", " " + pilot.name_en));
    return head;
  }

  function popupContent(pilot, linkText) {
    var box = el("div", "atlas-popup");
    box.appendChild(heading(pilot));
    pilot.popup.forEach(function (section) {
      box.appendChild(el("div", "atlas-section", section[0]));
      box.appendChild(keyValueTable(section[1]));
    });
    if (pilot.page && linkText) {
      var link = el("a", "atlas-page-link", linkText);
      link.setAttribute("href", pilot.page);
      box.appendChild(link);
    }
    return box;
  }

  function tooltipContent(pilot, layer) {
    var box = el("div", "atlas-tooltip");
    box.appendChild(heading(pilot));
    var value = pilot.values[layer.id];
    if (value) {
      box.appendChild(el("div", "atlas-tooltip-layer", layer.title));
      box.appendChild(el("div", "atlas-tooltip-value", value[1]));
    }
    return box;
  }

  function colourOf(layer, pilot) {
    var value = pilot.values[layer.id];
    if (!value || value[0] < 0) { return layer.nodata.colour; }
    return layer.classes[value[0]].colour;
  }

  function fullscreenIcon() {
    // four corner brackets, drawn rather than taken from a font
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "#333");
    path.setAttribute("stroke-width", "2");
    svg.appendChild(path);
    return svg;
  }

  function Atlas(map, payload) {
    this.map = map;
    this.payload = payload;
    this.legends = [];       // [{layer, spec}] in the order they were registered
    this.thematic = [];      // thematic layers, for search
    this.images = [];        // raster overlays
    this.fillsOff = false;
    this.map.atlas = this;
  }

  Atlas.prototype.registerLegend = function (layer, spec) {
    this.legends.push({ layer: layer, spec: spec });
    this.redrawLegend();
  };

  Atlas.prototype.thematicLayer = function (spec) {
    var self = this;
    var pilots = this.payload.pilots;
    var layer = L.geoJSON(this.payload.features, {
      style: function (feature) {
        var pilot = pilots[feature.properties.id];
        var colour = colourOf(spec, pilot);
        var opacity = spec.fill_opacity === undefined ? 0.75 : spec.fill_opacity;
        if (feature.properties.nested) {
          return { color: colour, weight: 3, opacity: 1, fillColor: colour, fillOpacity: 0,
                   className: "atlas-pilot atlas-nested atlas-layer-" + spec.id };
        }
        if (self.fillsOff) {   // the raster shows through; the class stays readable in the outline
          return { color: colour, weight: Math.max(spec.weight || 0.8, 1.8), opacity: 1, fillColor: colour,
                   fillOpacity: 0, className: "atlas-pilot atlas-layer-" + spec.id };
        }
        return {
          color: spec.stroke || "#444", weight: spec.weight || 0.8, opacity: 0.9,
          fillColor: colour, fillOpacity: opacity,
          className: "atlas-pilot atlas-layer-" + spec.id
        };
      },
      onEachFeature: function (feature, shape) {
        var pilot = pilots[feature.properties.id];
        shape.bindTooltip(function () { return tooltipContent(pilot, spec); }, { sticky: true });
        shape.bindPopup(function () { return popupContent(pilot, self.payload.labels.page_link); },
                        { maxWidth: 360 });
        shape.on("add", function () {
          var node = shape.getElement();
          if (node) { node.setAttribute("data-pilot", feature.properties.id); }
        });
        shape.on("mouseover", function () {
          shape.setStyle(feature.properties.nested ? { weight: 4 } : { weight: 2.5, color: "#111" });
        });
        shape.on("mouseout", function () { layer.resetStyle(shape); });
      }
    });
    layer.atlasSpec = spec;
    this.thematic.push(layer);
    this.registerLegend(layer, spec);
    return layer;
  };

  Atlas.prototype.contextLayer = function () {
    if (!this.payload.context) { return null; }
    var self = this;
    this.context = L.geoJSON(this.payload.context, {
      interactive: false,
      style: function () {
        return { color: "#8a8a8a", weight: 0.6, fill: true, fillColor: "#f4f2ee", fillOpacity: self.fillsOff ? 0 : 1,
                 className: "atlas-context" };
      }
    });
    return this.context;
  };

  Atlas.prototype.updateFills = function () {
    // fills off while any raster overlay is shown: the raster lies under the outlines
    var map = this.map;
    var off = this.images.some(function (image) { return map.hasLayer(image); });
    if (off === this.fillsOff) { return; }
    this.fillsOff = off;
    map.getContainer().setAttribute("data-fills", off ? "off" : "on");
    this.thematic.forEach(function (layer) { layer.setStyle(layer.options.style); });
    if (this.context) { this.context.setStyle(this.context.options.style); }
  };

  Atlas.prototype.redrawLegend = function () {
    if (!this.legendBox) { return; }
    var box = this.legendBox;
    var map = this.map;
    var self = this;
    box.textContent = "";
    var shown = 0;
    this.legends.forEach(function (entry) {
      if (!map.hasLayer(entry.layer)) { return; }
      shown += 1;
      var spec = entry.spec;
      var part = el("div", "atlas-legend-part");
      part.setAttribute("data-layer", spec.id);
      part.appendChild(el("div", "atlas-legend-title", spec.legend_title));
      if (spec.legend_note) { part.appendChild(el("div", "atlas-legend-note", spec.legend_note)); }
      var rows = spec.classes.slice();
      if (spec.nodata && spec.nodata.shown) { rows.push(spec.nodata); }
      rows.forEach(function (cls) {
        var row = el("div", "atlas-legend-row");
        var swatch = el("span", "atlas-swatch");
        swatch.style.background = cls.colour;
        row.appendChild(swatch);
        row.appendChild(el("span", null, cls.label));
        part.appendChild(row);
      });
      if (spec.nested_note) {
        var nested = el("div", "atlas-legend-row atlas-legend-nested");
        nested.appendChild(el("span", "atlas-swatch atlas-swatch-outline"));
        nested.appendChild(el("span", null, spec.nested_note));
        part.appendChild(nested);
      }
      if (spec.fills_note && self.fillsOff) { part.appendChild(el("div", "atlas-legend-note", spec.fills_note)); }
      box.appendChild(part);
    });
    box.style.display = shown ? "block" : "none";
  };

  Atlas.prototype.addLegendControl = function () {
    var self = this;
    var Legend = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        var box = el("div", "atlas-legend leaflet-control");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        self.legendBox = box;
        return box;
      }
    });
    new Legend().addTo(this.map);
    this.map.on("overlayadd overlayremove baselayerchange layeradd layerremove", function () {
      self.redrawLegend();
    });
    this.redrawLegend();
  };

  Atlas.prototype.select = function (id) {
    var map = this.map;
    var target = null;
    var visible = this.thematic.filter(function (layer) { return map.hasLayer(layer); });
    if (!visible.length && this.thematic.length) {
      this.thematic[0].addTo(map);
      visible = [this.thematic[0]];
    }
    visible.forEach(function (layer) {
      layer.eachLayer(function (shape) {
        if (!target && shape.feature.properties.id === id) { target = shape; }
      });
    });
    if (!target) { return false; }
    map.fitBounds(target.getBounds(), { maxZoom: 10, padding: [20, 20] });
    target.openPopup(target.getBounds().getCenter());
    return true;
  };

  Atlas.prototype.search = function (query) {
    var q = fold(query);
    if (!q) { return []; }
    var pilots = this.payload.pilots;
    var found = [];
    this.payload.features.features.forEach(function (feature) {
      var id = feature.properties.id;
      var p = pilots[id];
      var keys = [p.name_zh, p.name_en, p.pinyin].map(fold);
      var rank = keys.some(function (k) { return k.indexOf(q) === 0; }) ? 0 :
                 keys.some(function (k) { return k.indexOf(q) >= 0; }) ? 1 : -1;
      if (rank >= 0) { found.push({ id: id, rank: rank, pilot: p }); }
    });
    found.sort(function (a, b) { return a.rank - b.rank || a.id.localeCompare(b.id); });
    return found.slice(0, 12);
  };

  Atlas.prototype.addSearchControl = function () {
    var self = this;
    var labels = this.payload.labels;
    var Search = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = el("div", "atlas-search leaflet-bar leaflet-control");
        var input = el("input");
        input.type = "search";
        input.setAttribute("placeholder", labels.search_placeholder);
        input.setAttribute("aria-label", labels.search_placeholder);
        var list = el("ul", "atlas-search-results");
        box.appendChild(input);
        box.appendChild(list);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        function show() {
          list.textContent = "";
          var hits = self.search(input.value);
          if (input.value && !hits.length) { list.appendChild(el("li", "atlas-search-none", labels.search_none)); }
          hits.forEach(function (hit) {
            var item = el("li", "atlas-search-hit");
            item.setAttribute("data-pilot", hit.id);
            item.appendChild(el("span", null, hit.pilot.name_zh));
            item.appendChild(el("span", "atlas-en", " " + hit.pilot.name_en));
            item.addEventListener("click", function (event) {
              // The hit leaves the DOM below, so Leaflet could no longer tell that the click
              // began inside a control, and would take it for a map click that closes popups.
              L.DomEvent.stopPropagation(event);
              self.select(hit.id);
              list.textContent = "";
            });
            list.appendChild(item);
          });
        }
        input.addEventListener("input", show);
        input.addEventListener("keydown", function (event) {
          if (event.key === "Enter") {
            var hits = self.search(input.value);
            if (hits.length) { self.select(hits[0].id); list.textContent = ""; }
          }
        });
        return box;
      }
    });
    new Search().addTo(this.map);
  };

  Atlas.prototype.addFullscreenControl = function () {
    var map = this.map;
    var labels = this.payload.labels;
    var Fullscreen = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var bar = el("div", "leaflet-bar leaflet-control atlas-fullscreen");
        var button = el("a");
        button.appendChild(fullscreenIcon());
        button.setAttribute("href", "#");
        button.setAttribute("role", "button");
        button.setAttribute("title", labels.fullscreen);
        button.setAttribute("aria-label", labels.fullscreen);
        L.DomEvent.on(button, "click", function (event) {
          L.DomEvent.preventDefault(event);
          var container = map.getContainer();
          if (document.fullscreenElement) {
            document.exitFullscreen();
          } else if (container.requestFullscreen) {
            container.requestFullscreen();
          }
        });
        document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });
        bar.appendChild(button);
        return bar;
      }
    });
    new Fullscreen().addTo(map);
  };

  Atlas.prototype.finish = function () {
    this.addLegendControl();
    this.addSearchControl();
    this.addFullscreenControl();
    var map = this.map;
    requestAnimationFrame(function () {
      window.atlasReadyAt = performance.now();
      window.atlasReady = true;
      map.getContainer().setAttribute("data-atlas-ready", "1");
    });
  };

  Atlas.prototype.addLayerControl = function (bases, overlays) {
    // Leaflet's own control, always laid out open, plus a fold button of ours: folded at first
    // on small screens and small maps, and foldable everywhere (Leaflet's collapsed mode only
    // opens on hover, which phones do not have).
    var control = L.control.layers(bases, overlays, { collapsed: false, position: "topright" }).addTo(this.map);
    var box = control.getContainer();
    box.classList.add("atlas-layers");
    var labels = this.payload.labels;
    var button = el("button", "atlas-layers-toggle", labels.layers);
    button.type = "button";
    box.insertBefore(button, box.firstChild);
    function set(folded) {
      box.classList.toggle("atlas-layers-folded", folded);
      button.setAttribute("aria-expanded", folded ? "false" : "true");
    }
    L.DomEvent.on(button, "click", function (event) {
      L.DomEvent.stop(event);
      set(!box.classList.contains("atlas-layers-folded"));
    });
    var narrow = window.innerWidth < 900 || window.innerHeight < 560;
    set(this.payload.small || narrow);
    this.layerControl = control;
    return control;
  };

  Atlas.prototype.fit = function () {
    // keep the outlines clear of the open layer control: pad the view on its side
    var box = this.layerControl ? this.layerControl.getContainer() : null;
    var right = box && !box.classList.contains("atlas-layers-folded") ? box.offsetWidth + 12 : 10;
    var mapWidth = this.map.getSize().x;
    if (right > mapWidth / 3) { right = 10; }
    this.map.fitBounds(this.payload.bounds, { paddingTopLeft: [10, 10], paddingBottomRight: [right, 10] });
  };

  function mount(id) {
    var data = document.getElementById("atlas-map-data");
    var payload = JSON.parse(data.textContent);
    var map = L.map(id, { zoomSnap: 0.25, minZoom: 2, preferCanvas: false, attributionControl: true });
    map.attributionControl.setPrefix("Leaflet");
    var page = new Atlas(map, payload);
    window.atlasPage = page;
    map.createPane("atlasRaster").style.zIndex = 350;   // under the outlines (overlayPane, 400)
    map.getPane("atlasRaster").style.pointerEvents = "none";
    L.control.scale({ imperial: false }).addTo(map);
    var bases = {};
    var overlays = {};
    if (payload.basemap) {
      var b = payload.basemap;
      var tiles = L.tileLayer(b.url, { attribution: b.attribution, subdomains: b.subdomains, maxZoom: b.max_zoom });
      tiles.addTo(map);
      overlays[escapeName(b.title)] = tiles;
    }
    var context = page.contextLayer();
    if (context) { context.addTo(map); }
    payload.thematic.forEach(function (spec) {
      var layer = page.thematicLayer(spec);
      bases[escapeName(spec.title)] = layer;
      if (spec.show) { layer.addTo(map); }
    });
    payload.overlays.forEach(function (item) {
      var image = L.imageOverlay(item.url, item.bounds, { opacity: item.opacity, interactive: false,
                                                          pane: "atlasRaster", className: "atlas-raster" });
      image.atlasId = item.legend.id;
      page.images.push(image);
      page.registerLegend(image, item.legend);
      overlays[escapeName(item.legend.title)] = image;
      if (item.show) { image.addTo(map); }
    });
    map.on("overlayadd overlayremove", function () { page.updateFills(); page.redrawLegend(); });
    page.addLayerControl(bases, overlays);
    page.updateFills();
    page.fit();
    page.finish();
    return page;
  }

  function escapeName(text) {
    // Leaflet's layer control inserts names as HTML: give it escaped text
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  window.AtlasPage = {
    // window.atlasPage: the page's object, for readers' own scripts and for the browser tests
    mount: mount,
    fold: fold,
    el: el
  };
})();
