/* The klepto command-line tool (commands arrive with the CLI work). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "klepto: no commands yet\n");
    return 2;
}
