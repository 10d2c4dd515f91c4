#!/bin/bash
# kafka-topics.sh of the stand-in broker image: Kafka 4.1.0's TopicCommand, as the real image's script runs it.
exec java -Xmx256m -cp '/opt/kafka/libs/*' -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
	org.apache.kafka.tools.TopicCommand "$@"
