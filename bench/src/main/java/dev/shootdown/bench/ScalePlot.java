package dev.shootdown.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The scale sweeps as one SVG chart, written by hand: the sweep's value on a log-2 x axis, the
 * cost per shootdown over the base's on a log-2 y axis (so linear growth is a 45-degree line, drawn
 * dashed for reference), one polyline per sweep.
 */
final class ScalePlot {

    private static final int W = 680;
    private static final int H = 420;
    private static final int LEFT = 70;
    private static final int RIGHT = 200;
    private static final int TOP = 40;
    private static final int BOTTOM = 60;
    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

    private ScalePlot() {}

    static String svg(List<ScaleBenchmark.Point> points, String title) {
        Map<String, List<ScaleBenchmark.Point>> bySweep = new LinkedHashMap<>();
        for (ScaleBenchmark.Point p : points) {
            bySweep.computeIfAbsent(p.sweep(), k -> new ArrayList<>()).add(p);
        }
        double xMax = 1;
        double yMin = 1;
        double yMax = 1;
        for (ScaleBenchmark.Point p : points) {
            xMax = Math.max(xMax, p.value());
            yMin = Math.min(yMin, p.ratio());
            yMax = Math.max(yMax, p.ratio());
        }
        int xHi = Math.max((int) Math.ceil(log2(xMax)), 1);
        int yLo = (int) Math.floor(log2(yMin));
        int yHi = Math.max((int) Math.ceil(log2(yMax)), yLo + 1);
        double pw = W - LEFT - RIGHT;
        double ph = H - TOP - BOTTOM;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", W, H, W, H));
        b.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", W, H));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>%n", LEFT, esc(title)));
        // grid and ticks
        for (int i = 0; i <= xHi; i++) {
            double x = LEFT + pw * i / xHi;
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>%n", x, TOP, x, H - BOTTOM));
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", x, H - BOTTOM + 16, 1 << i));
        }
        for (int j = yLo; j <= yHi; j++) {
            double y = TOP + ph * (yHi - j) / (yHi - yLo);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n", LEFT, y, W - RIGHT, y));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT - 6, y + 4,
                    j >= 0 ? (1 << j) + "x" : "1/" + (1 << -j) + "x"));
        }
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>%n",
                LEFT, TOP, pw, ph));
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">CPUs, IOMMUs or mms (log 2; each sweep from its own base)</text>%n",
                LEFT + pw / 2, H - 18));
        b.append(String.format(Locale.ROOT, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
                + "wall ns per shootdown / base's (log 2)</text>%n", TOP + ph / 2));
        int s = 0;
        int legendY = TOP + 10;
        for (Map.Entry<String, List<ScaleBenchmark.Point>> e : bySweep.entrySet()) {
            String colour = COLOURS[s++ % COLOURS.length];
            List<ScaleBenchmark.Point> ps = e.getValue();
            // linear growth from this sweep's base, for reference
            double bx = ps.get(0).value();
            double ex = ps.get(ps.size() - 1).value();
            if (!e.getKey().equals("mms") && ex > bx) {
                b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 4\" "
                        + "stroke-opacity=\"0.6\"/>%n", px(bx, xHi, pw), py(1, yLo, yHi, ph), px(ex, xHi, pw),
                        py(Math.min(ex / bx, Math.pow(2, yHi)), yLo, yHi, ph), colour));
            }
            StringBuilder pts = new StringBuilder();
            for (ScaleBenchmark.Point p : ps) {
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px(p.value(), xHi, pw), py(p.ratio(), yLo, yHi, ph)));
            }
            b.append(String.format(Locale.ROOT, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>%n",
                    pts.toString().strip(), colour));
            for (ScaleBenchmark.Point p : ps) {
                b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %d: %.2fx</title></circle>%n",
                        px(p.value(), xHi, pw), py(p.ratio(), yLo, yHi, ph), colour, esc(p.sweep()), p.value(), p.ratio()));
            }
            ScaleBenchmark.Point last = ps.get(ps.size() - 1);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>%n",
                    W - RIGHT + 12, legendY, W - RIGHT + 32, legendY, colour));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s (%.2fx at %d)</text>%n", W - RIGHT + 36, legendY + 4,
                    esc(e.getKey()), last.ratio(), last.value()));
            legendY += 20;
        }
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"gray\" stroke-dasharray=\"4 4\"/>%n",
                W - RIGHT + 12, legendY, W - RIGHT + 32, legendY));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">linear</text>%n", W - RIGHT + 36, legendY + 4));
        b.append("</svg>\n");
        return b.toString();
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }

    private static double px(double value, int xHi, double pw) {
        return LEFT + pw * log2(value) / xHi;
    }

    private static double py(double ratio, int yLo, int yHi, double ph) {
        return TOP + ph * (yHi - log2(ratio)) / (yHi - yLo);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
