DROP INDEX entities_name_trigrams;
