package podium.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Counts the words of a text file and prints the most frequent ones.
 *
 * <p>Usage: {@code WordCount FILE [TOP]}. Prints {@code words: N}, {@code distinct: N}, then
 * the TOP (default 5) most frequent words as {@code word<TAB>count}, most frequent first
 * (ties in alphabetical order). A missing file is an uncaught exception, which Podium reports
 * as the task's error.
 */
public final class WordCount {
    private WordCount() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            throw new IllegalArgumentException("usage: WordCount FILE [TOP]");
        }
        int top = args.length == 2 ? Integer.parseInt(args[1]) : 5;
        String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
        Map<String, Integer> counts = new TreeMap<>();
        long words = 0;
        for (String word : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}']+")) {
            if (!word.isEmpty()) {
                counts.merge(word, 1, Integer::sum);
                words++;
            }
        }
        System.out.println("words: " + words);
        System.out.println("distinct: " + counts.size());
        List<Map.Entry<String, Integer>> ranked = counts.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder())
                        .thenComparing(Map.Entry.comparingByKey()))
                .limit(top)
                .collect(Collectors.toList());
        for (Map.Entry<String, Integer> entry : ranked) {
            System.out.println(entry.getKey() + "\t" + entry.getValue());
        }
    }
}
