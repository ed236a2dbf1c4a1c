/*
 * A test harness that runs Elasticsearch `query_string` queries (Lucene syntax, as Kibana sends them) on real
 * Apache Lucene, over an in-memory index built from Elasticsearch-shaped documents.
 *
 * Why: sigma-lambda generates Lucene queries for Elastic; this harness proves what those queries match. The
 * parsing is Lucene's own classic QueryParser; the per-field query construction mirrors Elasticsearch's
 * QueryStringQueryParser and field mappers (keyword, text, ip, long, date, boolean, flattened). Every behaviour
 * is documented, with its Elasticsearch source, in docs/engines/lucene.md.
 *
 * Protocol (one JVM per batch): stdin is a JSON object
 *   {"types": {path: type}, "objects": [object path, ...], "docs": [[entry, ...], ...], "queries": [string, ...], "lenient": bool,
 *    "keyword_ignore_above": int or null}
 * where an entry is ["f", path, value] for a leaf value or ["k", root, key, value] for a leaf of a flattened
 * field; all values are strings. stdout is {"results": [{"ids": [int...]} | {"error": string}, ...]}.
 */

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.InetAddressPoint;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.FuzzyQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.PrefixQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.RegexpQuery;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.SimpleCollector;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TermRangeQuery;
import org.apache.lucene.search.WildcardQuery;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.QueryBuilder;
import org.apache.lucene.util.automaton.RegExp;

public final class LuceneHarness {

    /** Index field that lists the leaf paths a document has a value for (Elasticsearch's `_field_names`). */
    static final String FIELD_NAMES = "_field_names";
    /** Doc-values field holding the document's position in the input batch. */
    static final String DOC_INDEX = "_idx";
    /** Suffix of a flattened field's keyed sub-field (FlattenedFieldMapper.KEYED_FIELD_SUFFIX). */
    static final String KEYED_SUFFIX = "._keyed";
    /** Separator between key and value in keyed flattened terms (FlattenedFieldParser.SEPARATOR). */
    static final String SEPARATOR = "\0";

    enum Kind {
        KEYWORD("keyword"), TEXT("text"), IP("ip"), LONG("long"), DATE("date"), BOOLEAN("boolean"),
        FLATTENED("flattened");

        final String esName;

        Kind(String esName) {
            this.esName = esName;
        }

        static Kind of(String name) {
            if (name.equals("match_only_text")) {
                return TEXT;
            }
            if (name.equals("constant_keyword")) {
                // The harness's documents carry the constant, so a keyword over their values answers the same.
                return KEYWORD;
            }
            if (name.equals("integer") || name.equals("short") || name.equals("byte")) {
                return LONG;
            }
            for (Kind k : values()) {
                if (k.esName.equals(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown field type [" + name + "]");
        }
    }

    /** A field a query names, resolved against the mapping: a plain field, a flattened root, or a keyed one. */
    static final class Resolved {
        final String name;
        final Kind kind;
        /** For a keyed flattened sub-field: the flattened root and the key below it; else null. */
        final String root;
        final String key;

        Resolved(String name, Kind kind, String root, String key) {
            this.name = name;
            this.kind = kind;
            this.root = root;
            this.key = key;
        }

        boolean keyed() {
            return key != null;
        }
    }

    /** A query-time failure, reported for that query like the error of an Elasticsearch search. */
    static final class QueryError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        QueryError(String message) {
            super(message);
        }
    }

    @FunctionalInterface
    interface FieldQuery {
        Query build(Resolved field);
    }

    static final Analyzer STANDARD = new StandardAnalyzer();

    // ------------------------------------------------------------------------------------------------ parser

    /**
     * Lucene's classic query parser with Elasticsearch's per-field dispatch (QueryStringQueryParser): every
     * leaf of the syntax tree is built by the field's mapper type instead of as a plain term of a text field.
     */
    static final class EsQueryStringParser extends QueryParser {
        private final Map<String, Kind> types;
        private final Set<String> objects;
        private final boolean lenient;

        EsQueryStringParser(Map<String, Kind> types, Set<String> objects, boolean lenient) {
            // "*" is the default field, as with index.query.default_field's default (all fields).
            super("*", STANDARD);
            this.types = types;
            this.objects = objects;
            this.lenient = lenient;
            setAllowLeadingWildcard(true);
            setDefaultOperator(QueryParser.OR_OPERATOR);
            // Elasticsearch leaves Lucene's default (false) here: whitespace is not an operator.
            setSplitOnWhitespace(false);
        }

        // ---- field resolution

        Resolved resolve(String field) {
            // A flattened root owns every dotted path below it (its keyed sub-fields).
            int dot = field.indexOf('.');
            while (dot > 0) {
                String prefix = field.substring(0, dot);
                if (types.get(prefix) == Kind.FLATTENED) {
                    return new Resolved(field, Kind.KEYWORD, prefix, field.substring(dot + 1));
                }
                dot = field.indexOf('.', dot + 1);
            }
            Kind kind = types.get(field);
            return kind == null ? null : new Resolved(field, kind, null, null);
        }

        /**
         * Applies `build` to every field `field` names: itself, or for "*" (the default field) and other
         * patterns every mapped field the pattern matches, ORed (Elasticsearch builds a dis_max). The default
         * field is always lenient (QueryStringQueryBuilder.doToQuery), other fields only when asked.
         */
        Query perField(String field, FieldQuery build) {
            if (field.indexOf('*') < 0) {
                Resolved r = resolve(field);
                if (r == null) {
                    return new MatchNoDocsQuery("unmapped field [" + field + "]");
                }
                return guarded(r, build, lenient);
            }
            boolean fieldLenient = lenient || field.equals("*");
            Pattern pattern = globPattern(field);
            List<Query> queries = new ArrayList<>();
            for (Map.Entry<String, Kind> entry : types.entrySet()) {
                if (pattern.matcher(entry.getKey()).matches()) {
                    Query q = guarded(new Resolved(entry.getKey(), entry.getValue(), null, null), build, fieldLenient);
                    if (q != null) {
                        queries.add(q);
                    }
                }
            }
            if (queries.isEmpty()) {
                return new MatchNoDocsQuery("no field matches [" + field + "]");
            }
            if (queries.size() == 1) {
                return queries.get(0);
            }
            BooleanQuery.Builder b = new BooleanQuery.Builder();
            for (Query q : queries) {
                b.add(q, BooleanClause.Occur.SHOULD);
            }
            return b.build();
        }

        /** Regex.simpleMatch: `*` matches any run of characters in a field name pattern. */
        private static Pattern globPattern(String glob) {
            StringBuilder re = new StringBuilder();
            for (String part : glob.split("\\*", -1)) {
                if (re.length() > 0) {
                    re.append(".*");
                }
                re.append(Pattern.quote(part));
            }
            return Pattern.compile(re.toString());
        }

        private static Query guarded(Resolved r, FieldQuery build, boolean lenient) {
            try {
                return build.build(r);
            } catch (QueryError | IllegalArgumentException e) {
                if (lenient) {
                    return new MatchNoDocsQuery("lenient: " + e.getMessage());
                }
                throw e;
            }
        }

        // ---- the syntax tree's leaves

        @Override
        protected Query getFieldQuery(String field, String queryText, boolean quoted) throws ParseException {
            if ("_exists_".equals(field)) {
                return existsQuery(queryText);
            }
            if (quoted) {
                return getFieldQuery(field, queryText, getPhraseSlop());
            }
            // field:>=10 and friends (QueryStringQueryParser.getFieldQuery).
            if (queryText.length() > 1) {
                if (queryText.charAt(0) == '>') {
                    if (queryText.length() > 2 && queryText.charAt(1) == '=') {
                        return getRangeQuery(field, queryText.substring(2), null, true, true);
                    }
                    return getRangeQuery(field, queryText.substring(1), null, false, true);
                } else if (queryText.charAt(0) == '<') {
                    if (queryText.length() > 2 && queryText.charAt(1) == '=') {
                        return getRangeQuery(field, null, queryText.substring(2), true, true);
                    }
                    return getRangeQuery(field, null, queryText.substring(1), true, false);
                }
            }
            return perField(field, r -> termQuery(r, queryText, false, 0));
        }

        @Override
        protected Query getFieldQuery(String field, String queryText, int slop) throws ParseException {
            if ("_exists_".equals(field)) {
                return existsQuery(queryText);
            }
            return perField(field, r -> termQuery(r, queryText, true, slop));
        }

        @Override
        protected Query getWildcardQuery(String field, String termStr) throws ParseException {
            if ("*".equals(termStr)) {
                // field:* is an exists query; *:* matches everything (QueryStringQueryParser.getWildcardQuery).
                return "*".equals(field) ? new MatchAllDocsQuery() : existsQuery(field);
            }
            return perField(field, r -> wildcardQuery(r, termStr));
        }

        @Override
        protected Query getPrefixQuery(String field, String termStr) throws ParseException {
            return perField(field, r -> prefixQuery(r, termStr));
        }

        @Override
        protected Query getRegexpQuery(String field, String termStr) throws ParseException {
            return perField(field, r -> regexpQuery(r, termStr));
        }

        @Override
        protected Query getFuzzyQuery(String field, String termStr, float minSimilarity) throws ParseException {
            return perField(field, r -> fuzzyQuery(r, termStr, minSimilarity));
        }

        @Override
        protected Query getRangeQuery(String field, String part1, String part2, boolean startInclusive,
                boolean endInclusive) throws ParseException {
            String lower = "*".equals(part1) ? null : part1;
            String upper = "*".equals(part2) ? null : part2;
            return perField(field, r -> rangeQuery(r, lower, upper, startInclusive, endInclusive));
        }

        @Override
        protected Query getBooleanQuery(List<BooleanClause> clauses) throws ParseException {
            Query q = super.getBooleanQuery(clauses);
            return q == null ? null : fixNegativeQueryIfNeeded(q);
        }

        // ---- per type (the mappers' termQuery, wildcardQuery, ...)

        Query existsQuery(String field) {
            Resolved r = resolve(field);
            if (r != null && r.keyed()) {
                // KeyedFlattenedFieldType.existsQuery: a prefix query on "key\0".
                return new PrefixQuery(new Term(r.root + KEYED_SUFFIX, r.key + SEPARATOR));
            }
            // A leaf field has its own name in _field_names (its multi-fields are fields of their own); an object
            // exists when any field below it does (ExistsQueryBuilder.newFilter expands an object to "path.*").
            if (objects.contains(field)) {
                return new PrefixQuery(new Term(FIELD_NAMES, field + "."));
            }
            return new TermQuery(new Term(FIELD_NAMES, field));
        }

        Query termQuery(Resolved r, String text, boolean quoted, int slop) {
            if (r.keyed()) {
                return new TermQuery(new Term(r.root + KEYED_SUFFIX, r.key + SEPARATOR + text));
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                    // The keyword analyzer: the whole text is one term, quoted or not.
                    return new TermQuery(new Term(r.name, text));
                case TEXT: {
                    QueryBuilder builder = new QueryBuilder(STANDARD);
                    if (quoted) {
                        return builder.createPhraseQuery(r.name, text, slop);
                    }
                    return builder.createBooleanQuery(r.name, text,
                        getDefaultOperator() == QueryParser.AND_OPERATOR ? BooleanClause.Occur.MUST
                            : BooleanClause.Occur.SHOULD);
                }
                case IP:
                    return ipTermQuery(r.name, text);
                case LONG: {
                    BigDecimal value = parseNumber(text);
                    if (value.stripTrailingZeros().scale() > 0) {
                        return new MatchNoDocsQuery("a long never equals a decimal");
                    }
                    return LongPoint.newExactQuery(r.name, toLong(value));
                }
                case DATE:
                    return LongPoint.newRangeQuery(r.name, Dates.parse(text, false), Dates.parse(text, true));
                case BOOLEAN:
                    return new TermQuery(new Term(r.name, parseBoolean(text)));
                default:
                    throw new IllegalStateException(r.kind.toString());
            }
        }

        Query wildcardQuery(Resolved r, String pattern) {
            if (r.keyed()) {
                throw new QueryError("[wildcard] queries are not currently supported on keyed [flattened] fields.");
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                    return new WildcardQuery(new Term(r.name, pattern));
                case TEXT:
                    return new WildcardQuery(new Term(r.name, normalizeWildcardPattern(r.name, pattern)));
                default:
                    throw unsupported("wildcard", "keyword, text and wildcard", r);
            }
        }

        Query prefixQuery(Resolved r, String prefix) {
            if (r.keyed()) {
                return new PrefixQuery(new Term(r.root + KEYED_SUFFIX, r.key + SEPARATOR + prefix));
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                    return new PrefixQuery(new Term(r.name, prefix));
                case TEXT:
                    return new PrefixQuery(new Term(r.name, STANDARD.normalize(r.name, prefix)));
                default:
                    throw unsupported("prefix", "keyword, text and wildcard", r);
            }
        }

        Query regexpQuery(Resolved r, String regexp) {
            if (r.keyed()) {
                throw new QueryError("[regexp] queries are not currently supported on keyed [flattened] fields.");
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                case TEXT:
                    // RegExp.ALL, with the complement operator, as QueryStringQueryParser.getRegexpQuerySingle.
                    return new RegexpQuery(new Term(r.name, regexp), RegExp.ALL);
                default:
                    throw unsupported("regexp", "keyword and text", r);
            }
        }

        Query fuzzyQuery(Resolved r, String text, float minSimilarity) {
            if (r.keyed()) {
                throw new QueryError("[fuzzy] queries are not currently supported on keyed [flattened] fields.");
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                    return new FuzzyQuery(new Term(r.name, text), Math.min(2, (int) minSimilarity));
                case TEXT:
                    return new FuzzyQuery(new Term(r.name, STANDARD.normalize(r.name, text)),
                        Math.min(2, (int) minSimilarity));
                default:
                    throw unsupported("fuzzy", "keyword and text", r);
            }
        }

        Query rangeQuery(Resolved r, String lower, String upper, boolean includeLower, boolean includeUpper) {
            if (r.keyed()) {
                if (lower == null || upper == null) {
                    throw new QueryError(
                        "[range] queries on keyed [flattened] fields must include both an upper and a lower bound.");
                }
                String prefix = r.key + SEPARATOR;
                return TermRangeQuery.newStringRange(r.root + KEYED_SUFFIX, prefix + lower, prefix + upper,
                    includeLower, includeUpper);
            }
            switch (r.kind) {
                case KEYWORD:
                case FLATTENED:
                    return TermRangeQuery.newStringRange(r.name, lower, upper, includeLower, includeUpper);
                case TEXT:
                    return TermRangeQuery.newStringRange(r.name,
                        lower == null ? null : STANDARD.normalize(r.name, lower).utf8ToString(),
                        upper == null ? null : STANDARD.normalize(r.name, upper).utf8ToString(),
                        includeLower, includeUpper);
                case IP:
                    return ipRangeQuery(r.name, lower, upper, includeLower, includeUpper);
                case LONG:
                    return longRangeQuery(r.name, lower, upper, includeLower, includeUpper);
                case DATE: {
                    // DateFieldType.dateRangeQuery: bounds round up or down with the inclusiveness.
                    long lo = lower == null ? Long.MIN_VALUE : Dates.parse(lower, !includeLower);
                    long hi = upper == null ? Long.MAX_VALUE : Dates.parse(upper, includeUpper);
                    if (lower != null && !includeLower) {
                        lo = lo == Long.MAX_VALUE ? lo : lo + 1;
                    }
                    if (upper != null && !includeUpper) {
                        hi = hi == Long.MIN_VALUE ? hi : hi - 1;
                    }
                    return LongPoint.newRangeQuery(r.name, lo, hi);
                }
                case BOOLEAN:
                    return TermRangeQuery.newStringRange(r.name, lower == null ? null : parseBoolean(lower),
                        upper == null ? null : parseBoolean(upper), includeLower, includeUpper);
                default:
                    throw new IllegalStateException(r.kind.toString());
            }
        }

        /** StringFieldType.normalizeWildcardPattern: normalise the literal parts, keep `*`, `?` and escapes. */
        private static String normalizeWildcardPattern(String field, String pattern) {
            Matcher m = Pattern.compile("(\\\\.)|([?*]+)").matcher(pattern);
            StringBuilder sb = new StringBuilder();
            int last = 0;
            while (m.find()) {
                if (m.start() > last) {
                    sb.append(STANDARD.normalize(field, pattern.substring(last, m.start())).utf8ToString());
                }
                sb.append(m.group());
                last = m.end();
            }
            if (last < pattern.length()) {
                sb.append(STANDARD.normalize(field, pattern.substring(last)).utf8ToString());
            }
            return sb.toString();
        }

        private static QueryError unsupported(String what, String types, Resolved r) {
            // MappedFieldType's default wildcardQuery/prefixQuery/regexpQuery/fuzzyQuery.
            return new QueryError("Can only use " + what + " queries on " + types + " fields - not on [" + r.name
                + "] which is of type [" + r.kind.esName + "]");
        }
    }

    /** Queries.fixNegativeQueryIfNeeded: a boolean query of only MUST_NOT clauses gets a match-all filter. */
    static Query fixNegativeQueryIfNeeded(Query q) {
        if (!(q instanceof BooleanQuery)) {
            return q;
        }
        List<BooleanClause> clauses = ((BooleanQuery) q).clauses();
        if (clauses.isEmpty()) {
            return q;
        }
        for (BooleanClause c : clauses) {
            if (!c.isProhibited()) {
                return q;
            }
        }
        BooleanQuery.Builder b = new BooleanQuery.Builder();
        for (BooleanClause c : clauses) {
            b.add(c);
        }
        b.add(new MatchAllDocsQuery(), BooleanClause.Occur.FILTER);
        return b.build();
    }

    // ------------------------------------------------------------------------------------------- value types

    /** IpFieldMapper.IpFieldType.termQuery: a value with "/" is a CIDR prefix, else one address. */
    static Query ipTermQuery(String field, String text) {
        if (text.contains("/")) {
            int slash = text.indexOf('/');
            if (slash != text.lastIndexOf('/')) {
                throw new QueryError("Expected [ip/prefix] but was [" + text + "]");
            }
            InetAddress address = parseIp(text.substring(0, slash));
            int prefix;
            try {
                prefix = Integer.parseInt(text.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new QueryError("Expected [ip/prefix] but was [" + text + "]");
            }
            int bits = address.getAddress().length * 8;
            if (prefix < 0 || prefix > bits) {
                throw new QueryError("illegal prefixLength '" + prefix + "'. Must be 0-" + bits + " for " + text);
            }
            return InetAddressPoint.newPrefixQuery(field, address, prefix);
        }
        return InetAddressPoint.newExactQuery(field, parseIp(text));
    }

    static Query ipRangeQuery(String field, String lower, String upper, boolean includeLower, boolean includeUpper) {
        InetAddress lo = lower == null ? InetAddressPoint.MIN_VALUE : parseIp(lower);
        InetAddress hi = upper == null ? InetAddressPoint.MAX_VALUE : parseIp(upper);
        if (lower != null && !includeLower) {
            if (lo.equals(InetAddressPoint.MAX_VALUE)) {
                return new MatchNoDocsQuery("empty ip range");
            }
            lo = InetAddressPoint.nextUp(lo);
        }
        if (upper != null && !includeUpper) {
            if (hi.equals(InetAddressPoint.MIN_VALUE)) {
                return new MatchNoDocsQuery("empty ip range");
            }
            hi = InetAddressPoint.nextDown(hi);
        }
        return InetAddressPoint.newRangeQuery(field, lo, hi);
    }

    private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");

    /**
     * An IP literal as Elasticsearch's InetAddresses.forString accepts it (dotted-quad IPv4 without leading
     * zeros, or IPv6), never a host name: java.net would resolve one through DNS.
     */
    static InetAddress parseIp(String text) {
        Matcher m = IPV4.matcher(text);
        try {
            if (m.matches()) {
                byte[] bytes = new byte[4];
                for (int i = 0; i < 4; i++) {
                    String part = m.group(i + 1);
                    int v = Integer.parseInt(part);
                    if (v > 255 || (part.length() > 1 && part.charAt(0) == '0')) {
                        throw new QueryError("'" + text + "' is not an IP string literal.");
                    }
                    bytes[i] = (byte) v;
                }
                return InetAddress.getByAddress(bytes);
            }
            if (text.indexOf(':') >= 0 && IPV6_CHARS.matcher(text).matches()) {
                InetAddress a = InetAddress.getByName(text);
                if (a instanceof Inet6Address || text.indexOf('.') >= 0) {
                    return a;
                }
            }
        } catch (UnknownHostException | RuntimeException e) {
            if (e instanceof QueryError) {
                throw (QueryError) e;
            }
            // fall through to the error below
        }
        throw new QueryError("'" + text + "' is not an IP string literal.");
    }

    static BigDecimal parseNumber(String text) {
        try {
            return new BigDecimal(text.trim());
        } catch (NumberFormatException e) {
            throw new QueryError("For input string: \"" + text + "\"");
        }
    }

    static long toLong(BigDecimal value) {
        try {
            return value.longValueExact();
        } catch (ArithmeticException e) {
            throw new QueryError("Value [" + value.toPlainString() + "] is out of range for a long");
        }
    }

    static Query longRangeQuery(String field, String lower, String upper, boolean includeLower,
            boolean includeUpper) {
        long lo = Long.MIN_VALUE;
        long hi = Long.MAX_VALUE;
        if (lower != null) {
            BigDecimal v = parseNumber(lower);
            // the smallest long in the range: ceil(v), or floor(v) + 1 when v itself is excluded
            BigDecimal first = includeLower ? v.setScale(0, RoundingMode.CEILING)
                : v.setScale(0, RoundingMode.FLOOR).add(BigDecimal.ONE);
            if (first.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
                return new MatchNoDocsQuery("empty long range");
            }
            lo = first.max(BigDecimal.valueOf(Long.MIN_VALUE)).longValueExact();
        }
        if (upper != null) {
            BigDecimal v = parseNumber(upper);
            BigDecimal last = includeUpper ? v.setScale(0, RoundingMode.FLOOR)
                : v.setScale(0, RoundingMode.CEILING).subtract(BigDecimal.ONE);
            if (last.compareTo(BigDecimal.valueOf(Long.MIN_VALUE)) < 0) {
                return new MatchNoDocsQuery("empty long range");
            }
            hi = last.min(BigDecimal.valueOf(Long.MAX_VALUE)).longValueExact();
        }
        return LongPoint.newRangeQuery(field, lo, hi);
    }

    /** BooleanFieldMapper: "true" and "false" are indexed as the terms "T" and "F"; nothing else parses. */
    static String parseBoolean(String text) {
        switch (text) {
            case "true":
                return "T";
            case "false":
                return "F";
            default:
                throw new QueryError("Can't parse boolean value [" + text + "], expected [true] or [false]");
        }
    }

    /**
     * Elasticsearch's default date format, strict_date_optional_time||epoch_millis, in UTC. A date given to a
     * lower precision rounds down, or up to the last millisecond of its unit with roundUp (as date math does).
     * Date math ("now-1d", "||") is not supported.
     */
    static final class Dates {
        private static final Pattern ISO = Pattern.compile(
            "(\\d{4})(?:-(\\d{2})(?:-(\\d{2})(?:[T ](\\d{2})(?::(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,9}))?)?)?"
                + "(Z|[+-]\\d{2}(?::?\\d{2})?)?)?)?)?");

        static long parse(String text, boolean roundUp) {
            if (text.matches("-?\\d+") && text.length() != 4) {
                return Long.parseLong(text);
            }
            Matcher m = ISO.matcher(text);
            if (!m.matches()) {
                throw new QueryError("failed to parse date field [" + text
                    + "] with format [strict_date_optional_time||epoch_millis]");
            }
            try {
                int year = Integer.parseInt(m.group(1));
                LocalDate date;
                if (m.group(2) == null) {
                    date = roundUp ? LocalDate.of(year, 12, 31) : LocalDate.of(year, 1, 1);
                } else if (m.group(3) == null) {
                    LocalDate first = LocalDate.of(year, Integer.parseInt(m.group(2)), 1);
                    date = roundUp ? first.withDayOfMonth(first.lengthOfMonth()) : first;
                } else {
                    date = LocalDate.of(year, Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
                }
                int hour = field(m.group(4), roundUp ? 23 : 0);
                int minute = field(m.group(5), roundUp ? 59 : 0);
                int second = field(m.group(6), roundUp ? 59 : 0);
                int nanos;
                if (m.group(7) != null) {
                    String frac = (m.group(7) + "000000000").substring(0, 9);
                    nanos = Integer.parseInt(frac);
                } else {
                    nanos = roundUp ? 999_999_999 : 0;
                }
                ZoneOffset zone = m.group(8) == null ? ZoneOffset.UTC : ZoneOffset.of(
                    m.group(8).length() == 3 ? m.group(8) + ":00" : m.group(8));
                LocalDateTime t = LocalDateTime.of(date, LocalTime.of(hour, minute, second, nanos));
                long millis = t.toInstant(zone).toEpochMilli();
                return millis;
            } catch (DateTimeException | NumberFormatException e) {
                throw new QueryError("failed to parse date field [" + text + "]: " + e.getMessage());
            }
        }

        private static int field(String group, int missing) {
            return group == null ? missing : Integer.parseInt(group);
        }
    }

    // ----------------------------------------------------------------------------------------------- indexing

    /** Lucene's limit on one indexed term (IndexWriter.MAX_TERM_LENGTH), in UTF-8 bytes. */
    static final int MAX_TERM_BYTES = 32766;

    static boolean fitsInTerm(String value) {
        return value.length() * 3 <= MAX_TERM_BYTES
            || value.getBytes(StandardCharsets.UTF_8).length <= MAX_TERM_BYTES;
    }

    /**
     * Adds one leaf value as its mapper would index it; returns false when the value is not indexed.
     * A keyword longer than ignore_above characters (when set) is kept out of the index, as Elasticsearch
     * does (its field is then not "existing" either).
     */
    static boolean indexValue(Document doc, String path, Kind kind, String value, int ignoreAbove) {
        try {
            switch (kind) {
                case KEYWORD:
                    if ((ignoreAbove >= 0 && value.codePointCount(0, value.length()) > ignoreAbove)
                            || !fitsInTerm(value)) {
                        return false;
                    }
                    doc.add(new StringField(path, value, Field.Store.NO));
                    return true;
                case TEXT:
                    doc.add(new TextField(path, value, Field.Store.NO));
                    return true;
                case IP:
                    // ignore_malformed: a value that is not an IP literal is left out of the field.
                    doc.add(new InetAddressPoint(path, parseIp(value)));
                    return true;
                case LONG: {
                    // coerce (the default): "12" and 12.7 index as 12.
                    BigDecimal v = parseNumber(value).setScale(0, RoundingMode.DOWN);
                    doc.add(new LongPoint(path, toLong(v)));
                    return true;
                }
                case DATE:
                    doc.add(new LongPoint(path, Dates.parse(value, false)));
                    return true;
                case BOOLEAN:
                    doc.add(new StringField(path, parseBoolean(value), Field.Store.NO));
                    return true;
                default:
                    throw new IllegalStateException("a flattened root takes keyed entries: " + path);
            }
        } catch (QueryError e) {
            return false;
        }
    }

    static IndexSearcher buildIndex(List<Object> docs, Map<String, Kind> types, int ignoreAbove)
            throws IOException {
        // One in-memory segment, no merges, no commit: the searcher reads the writer's buffer (near real time).
        IndexWriterConfig config = new IndexWriterConfig(STANDARD);
        config.setRAMBufferSizeMB(512);
        config.setMergePolicy(NoMergePolicy.INSTANCE);
        config.setMergeScheduler(new SerialMergeScheduler());
        config.setUseCompoundFile(false);
        IndexWriter writer = new IndexWriter(new ByteBuffersDirectory(), config);
        int idx = 0;
        for (Object d : docs) {
            Document doc = new Document();
            doc.add(new NumericDocValuesField(DOC_INDEX, idx++));
            Set<String> present = new HashSet<>();
            for (Object e : (List<?>) d) {
                List<?> entry = (List<?>) e;
                String tag = (String) entry.get(0);
                if (tag.equals("f")) {
                    String path = (String) entry.get(1);
                    Kind kind = types.getOrDefault(path, Kind.KEYWORD);
                    if (kind == Kind.FLATTENED) {
                        continue;
                    }
                    if (indexValue(doc, path, kind, (String) entry.get(2), ignoreAbove)) {
                        present.add(path);
                    }
                } else if (tag.equals("k")) {
                    // FlattenedFieldParser: the value under the root, and "key\0value" under root._keyed.
                    String root = (String) entry.get(1);
                    String key = (String) entry.get(2);
                    String value = (String) entry.get(3);
                    if (!fitsInTerm(key + SEPARATOR + value)) {
                        continue;
                    }
                    doc.add(new StringField(root, value, Field.Store.NO));
                    doc.add(new StringField(root + KEYED_SUFFIX, key + SEPARATOR + value, Field.Store.NO));
                    present.add(root);
                } else {
                    throw new IllegalArgumentException("unknown entry tag " + tag);
                }
            }
            for (String path : present) {
                doc.add(new StringField(FIELD_NAMES, path, Field.Store.NO));
            }
            writer.addDocument(doc);
        }
        IndexSearcher searcher = new IndexSearcher(DirectoryReader.open(writer));
        searcher.setQueryCache(null);
        return searcher;
    }

    static List<Long> search(IndexSearcher searcher, Query query) throws IOException {
        TreeSet<Long> ids = new TreeSet<>();
        searcher.search(query, new SimpleCollector() {
            private NumericDocValues values;

            @Override
            protected void doSetNextReader(LeafReaderContext context) throws IOException {
                values = DocValues.getNumeric(context.reader(), DOC_INDEX);
            }

            @Override
            public void collect(int doc) throws IOException {
                if (values.advanceExact(doc)) {
                    ids.add(values.longValue());
                }
            }

            @Override
            public ScoreMode scoreMode() {
                return ScoreMode.COMPLETE_NO_SCORES;
            }
        });
        return new ArrayList<>(ids);
    }

    // ------------------------------------------------------------------------------------------------- main

    public static void main(String[] args) throws Exception {
        // Elasticsearch 8 computes its clause limit from the heap, and it is at least 4096.
        BooleanQuery.setMaxClauseCount(4096);
        String input = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        @SuppressWarnings("unchecked")
        Map<String, Object> request = (Map<String, Object>) new Json(input).parse();

        Map<String, Kind> types = new LinkedHashMap<>();
        @SuppressWarnings("unchecked")
        Map<String, Object> rawTypes = (Map<String, Object>) request.get("types");
        for (Map.Entry<String, Object> e : rawTypes.entrySet()) {
            types.put(e.getKey(), Kind.of((String) e.getValue()));
        }
        Set<String> objects = new HashSet<>();
        for (Object o : (List<?>) request.get("objects")) {
            objects.add((String) o);
        }
        boolean lenient = Boolean.TRUE.equals(request.get("lenient"));
        @SuppressWarnings("unchecked")
        List<Object> docs = (List<Object>) request.get("docs");
        @SuppressWarnings("unchecked")
        List<Object> queries = (List<Object>) request.get("queries");

        Object rawIgnoreAbove = request.get("keyword_ignore_above");
        int ignoreAbove = rawIgnoreAbove == null ? -1 : Integer.parseInt((String) rawIgnoreAbove);
        IndexSearcher searcher = buildIndex(docs, types, ignoreAbove);
        StringBuilder out = new StringBuilder("{\"results\":[");
        for (int i = 0; i < queries.size(); i++) {
            if (i > 0) {
                out.append(',');
            }
            String text = (String) queries.get(i);
            try {
                Query query = parse(text, types, objects, lenient);
                List<Long> ids = search(searcher, query);
                out.append("{\"ids\":[");
                for (int j = 0; j < ids.size(); j++) {
                    if (j > 0) {
                        out.append(',');
                    }
                    out.append(ids.get(j));
                }
                out.append("]}");
            } catch (ParseException | RuntimeException e) {
                out.append("{\"error\":");
                String message = e.getMessage() == null ? "" : e.getMessage();
                Json.writeString(out, e.getClass().getSimpleName() + ": " + message);
                out.append('}');
            }
        }
        out.append("]}");
        OutputStream stdout = System.out;
        stdout.write(out.toString().getBytes(StandardCharsets.UTF_8));
        stdout.flush();
    }

    /** QueryStringQueryBuilder.doToQuery: an empty query matches nothing; the result is fixed if negative. */
    static Query parse(String text, Map<String, Kind> types, Set<String> objects, boolean lenient)
            throws ParseException {
        if (text.trim().isEmpty()) {
            return new MatchNoDocsQuery("Matching no documents because no terms present");
        }
        Query q = new EsQueryStringParser(types, objects, lenient).parse(text);
        return q == null ? new MatchNoDocsQuery("no query") : fixNegativeQueryIfNeeded(q);
    }

    // ------------------------------------------------------------------------------------------------- JSON

    /** A small JSON reader (objects, arrays, strings, numbers as strings, true/false/null) and string writer. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parse() {
            Object v = value();
            ws();
            if (i != s.length()) {
                throw error("trailing data");
            }
            return v;
        }

        private Object value() {
            ws();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws();
                    if (peek('}')) {
                        return m;
                    }
                    do {
                        ws();
                        String k = string();
                        ws();
                        expect(':');
                        m.put(k, value());
                        ws();
                    } while (peek(','));
                    expect('}');
                    return m;
                }
                case '[': {
                    i++;
                    List<Object> l = new ArrayList<>();
                    ws();
                    if (peek(']')) {
                        return l;
                    }
                    do {
                        l.add(value());
                        ws();
                    } while (peek(','));
                    expect(']');
                    return l;
                }
                case '"':
                    return string();
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                default: {
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                        i++;
                    }
                    if (start == i) {
                        throw error("unexpected character");
                    }
                    return s.substring(start, i);
                }
            }
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 't': sb.append('\t'); break;
                    case 'r': sb.append('\r'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u':
                        sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: sb.append(e);
                }
            }
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private void literal(String word) {
            if (!s.startsWith(word, i)) {
                throw error("expected " + word);
            }
            i += word.length();
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("bad JSON input at " + i + ": " + what);
        }

        static void writeString(StringBuilder out, String v) {
            out.append('"');
            for (int k = 0; k < v.length(); k++) {
                char c = v.charAt(k);
                if (c == '"' || c == '\\') {
                    out.append('\\').append(c);
                } else if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
            out.append('"');
        }
    }
}
